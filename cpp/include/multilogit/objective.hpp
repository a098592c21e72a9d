// The interfaces solvers minimise: a smooth function of a parameter vector, and one that also
// offers its second derivatives.
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

// Second derivatives are taken at the point of the most recent evaluate() call, which keeps
// what they need: a solver evaluates f where it wants curvature.
class SecondOrderObjective : public Objective {
 public:
  // Writes H v into `product` (already sized).
  virtual void hessian_product(const Eigen::VectorXd& v, Eigen::VectorXd& product) = 0;

  // Writes the dimension() x dimension() Hessian into `hessian` (resized as needed). Along
  // directions in which f is exactly flat whatever w (if any), where the gradient has no
  // component either, it may hold any positive curvature so that Newton systems stay regular.
  virtual void hessian(Eigen::MatrixXd& hessian) = 0;

  // Writes M^-1 r into `preconditioned` (already sized) for a symmetric positive definite M
  // that approximates H, which conjugate gradients then solve with in fewer products. r is a
  // residual of a Newton system, with no component along directions in which f is exactly flat;
  // M^-1 r must have none either. The default is M = I; the first call after an evaluate() may
  // cost a pass over the data, as it may compute M at the new point.
  virtual void precondition(const Eigen::VectorXd& residual, Eigen::VectorXd& preconditioned) {
    preconditioned = residual;
  }
};

}  // namespace multilogit
