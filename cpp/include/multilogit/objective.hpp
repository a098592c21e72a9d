// The interface every solver minimises: a smooth function of a parameter vector.
#pragma once

#include <Eigen/Core>

namespace multilogit {

class Objective {
 public:
  virtual ~Objective() = default;

  // Number of parameters.
  virtual Eigen::Index dimension() const = 0;

  // Returns f(w) and writes the gradient of f at w into `gradient` (already sized).
  virtual double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) = 0;
};

}  // namespace multilogit
