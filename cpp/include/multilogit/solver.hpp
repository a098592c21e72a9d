// What every solver shares: its settings, how it ends, and what it reports.
#pragma once

#include <functional>

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
  int n_evaluations = 0;       // of the function and its gradient (Hessian products aside)

  bool converged() const { return status == SolverStatus::Converged; }
};

struct SolverSettings {
  double tol = 1e-4;
  int max_iter = 100;
  // Called after each iteration with (iteration, f, max-norm of gradient).
  std::function<void(int, double, double)> on_iteration;
};

}  // namespace multilogit
