// The interface every solver minimises: a smooth function of a parameter vector.
#pragma once

#include <limits>

#include <Eigen/Core>

namespace multilogit {

class Objective {
 public:
  virtual ~Objective() = default;

  // Number of parameters.
  virtual Eigen::Index dimension() const = 0;

  // Returns f(w) and writes the gradient of f at w into `gradient` (already sized).
  virtual double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) = 0;

  // Relative rounding error of the values evaluate() returns. Solvers stop trusting
  // differences of f below it and judge progress by the gradient instead.
  virtual double relative_precision() const { return std::numeric_limits<double>::epsilon(); }
};

}  // namespace multilogit
