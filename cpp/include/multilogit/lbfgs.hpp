// Limited-memory quasi-Newton solvers: L-BFGS with a line search enforcing the strong Wolfe
// conditions, and its orthant-wise variant OWL-QN for an added L1 penalty.
#pragma once

#include <functional>

#include <Eigen/Core>

#include "multilogit/objective.hpp"

namespace multilogit {

enum class SolverStatus {
  Converged,         // max-norm of the gradient at most tol
  MaxIterations,     // stopped at max_iter
  LineSearchFailed,  // no step decreases f any more (the tolerance is below what rounding allows)
};

struct SolverResult {
  SolverStatus status = SolverStatus::MaxIterations;
  int n_iter = 0;
  double objective = 0.0;
  double gradient_norm = 0.0;  // max-norm

  bool converged() const { return status == SolverStatus::Converged; }
};

struct LbfgsSettings {
  double tol = 1e-4;
  int max_iter = 100;
  int memory = 10;
  // Called after each iteration with (iteration, f, max-norm of gradient).
  std::function<void(int, double, double)> on_iteration;
};

// Minimises `objective` starting from `w`, which holds the solution on return. Every accepted
// step decreases f (by at least the Armijo amount while that exceeds the rounding of f).
SolverResult minimize_lbfgs(Objective& objective, Eigen::VectorXd& w,
                            const LbfgsSettings& settings);

// Minimises F(w) = f(w) + sum_i l1[i] |w_i| (f given by `objective`, l1 >= 0) by OWL-QN,
// starting from `w`. Coefficients can reach exact zeros; tol bounds the max-norm of the
// minimum-norm subgradient of F, and the reported objective is F.
SolverResult minimize_owlqn(Objective& objective, Eigen::VectorXd& w, const Eigen::VectorXd& l1,
                            const LbfgsSettings& settings);

}  // namespace multilogit
