// Training options shared by every strategy.
#pragma once

#include <functional>
#include <stdexcept>
#include <string_view>

namespace multilogit {

// Progress of one optimisation problem, reported after each solver iteration and once more,
// with `finished` set, when its solver stops.
struct IterationInfo {
  int problem = 0;         // index of the sub-problem (0 for softmax and binary)
  int iteration = 0;       // 1-based iteration count
  double objective = 0.0;  // f at the new iterate
  double gradient_norm = 0.0;  // max-norm of the gradient at the new iterate
  bool finished = false;   // the problem's last report: its solver has stopped
};

// The solver of each optimisation problem. With an L1 part in the penalty (l1_ratio > 0 and C
// finite) it is always OWL-QN, which Auto and Lbfgs pick; the Newton solvers refuse it.
enum class Solver {
  Auto,            // L-BFGS, measured the fastest overall: see training.hpp
  Lbfgs,           // L-BFGS (OWL-QN with an L1 part)
  NewtonCg,        // trust-region Newton with conjugate gradients (newton.hpp)
  NewtonCholesky,  // Newton with the full Hessian: for few parameters
};

// Parses "auto", "lbfgs", "newton-cg" or "newton-cholesky"; throws std::invalid_argument
// otherwise.
Solver parse_solver(std::string_view name);

// The name parse_solver reads.
std::string_view to_string(Solver solver);

struct TrainOptions {
  double C = 1.0;             // inverse regularisation strength; infinity means no penalty
  // Elastic-net mixing in [0, 1]: the penalty is (l1_ratio ||W||_1 + (1 - l1_ratio) ||W||^2 / 2)
  // / (C S); 0 is the L2 penalty, 1 the lasso (scikit-learn's parameterisation).
  double l1_ratio = 0.0;
  bool fit_intercept = true;  // the intercept is never penalised
  double tol = 1e-4;          // stop when the max-norm of the gradient is at most tol
  int max_iter = 100;         // solver iterations per problem
  int n_threads = 0;          // 0 means all hardware threads; results do not depend on it
  // Correction pairs kept by L-BFGS and OWL-QN. 0 chooses by size: up to 100, as long as the
  // pairs of all problems solved at once hold no more values than X stores (or 2^20 when X is
  // smaller), and never fewer than 10.
  int lbfgs_memory = 0;
  Solver solver = Solver::Auto;

  // Called after every iteration of every problem; calls are serialised but may come from
  // worker threads.
  std::function<void(const IterationInfo&)> on_iteration;

  // Polled after every iteration of every problem, from any thread, and by the calling thread
  // after every pass over X that serves problems solved together (one-vs-all); returning true
  // abandons the fit, which then throws Interrupted.
  std::function<bool()> should_stop;

  // Throws std::invalid_argument naming the first invalid option.
  void validate() const;

  // n_threads with 0 resolved to the number of hardware threads.
  int resolved_threads() const;
};

// Thrown by a fit abandoned through TrainOptions::should_stop.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("training interrupted") {}
};

}  // namespace multilogit
