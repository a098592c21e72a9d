// One-vs-all and one-vs-one: binary problems whose solvers advance together, so that each pass
// over a group of rows serves every problem that trains on it (binary_problems_loss.hpp):
// L-BFGS solvers in steps from one thread (solve_in_steps.hpp), the others each on a thread of
// its own (batched_problems.hpp).
#pragma once

#include <utility>
#include <vector>

#include "batched_problems.hpp"
#include "binary_problems_loss.hpp"
#include "solve_in_steps.hpp"
#include "training.hpp"

namespace multilogit::detail {

// Problems solved together at most: each has a thread of its own, and with curvature kept for
// the Newton solvers, a Scalar per row it trains on.
constexpr int kMaxProblemsTogether = 64;

// Values of X (stored values, for sparse X) a pair's rows must hold, on average, for pairs to
// share passes: below, a pass over them costs less than handing each pair's requests to a shared
// pass. Measured with benchmarks/bench_solvers.py (see resolve_solver in training.hpp).
constexpr double kMinSharedPairValues = 1e5;

// Whether one-vs-one's pairs should advance together, sharing passes over each class's rows,
// for `n_values` values of X over the rows of rows_of_class.
inline bool pairs_share_passes(const std::vector<std::vector<Index>>& rows_of_class,
                               double n_values) {
  return 2.0 * n_values / static_cast<double>(rows_of_class.size()) >= kMinSharedPairValues;
}

// Fits `problems` on `groups` of the rows of X, at most n_together at a time; problem p's
// solution is row p of the model. `traits` feed the automatic choice of L-BFGS memory.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
Model<Scalar> fit_binary_problems(Strategy strategy, const Matrix& X,
                                  const std::vector<RowSet<Matrix>>& groups,
                                  std::vector<BinaryProblem> problems, const LabelView& y,
                                  int n_classes, int n_together, const ProblemTraits& traits,
                                  const TrainOptions& options, const FitInputs<Scalar>& inputs) {
  const int n_problems = static_cast<int>(problems.size());
  ThreadPool pool(options.resolved_threads());
  BinaryProblemsLoss<Matrix> loss(groups, std::move(problems), y.data(), inputs.sample_weight,
                                  n_together, options.fit_intercept, options.C, options.l1_ratio,
                                  &pool);
  RowMatrix<Scalar> coef(n_problems, X.cols());
  Vector<Scalar> intercept(n_problems);
  std::vector<ProblemReport> reports(static_cast<size_t>(n_problems));
  const auto start_of = [&](int p) {
    return starting_point(inputs.initial, X.cols(), 1, options.fit_intercept, p,
                          loss.constant_predictor_intercepts(p));
  };
  if (resolve_solver(options.solver) == Solver::Lbfgs && !loss.l1_penalty(0).size()) {
    // L-BFGS, the usual choice, goes in steps: no thread per problem.
    solve_in_steps(loss, n_problems, n_together, pool, options.should_stop, [&](int p) {
      LbfgsSettings settings = solver_settings(options, loss.dimension(), traits, p);
      settings.initial_inverse_hessian = loss.lbfgs_initial_inverse_hessian(p);
      return LbfgsSteps(start_of(p), settings, loss.relative_precision());
    }, [&](int p, const LbfgsSteps& steps) {
      reports[static_cast<size_t>(p)] = final_report(options, p, steps.result());
      store_units(steps.solution(), X.cols(), 1, options.fit_intercept, p, coef, intercept);
    });
  } else {
    BatchedProblems<BinaryProblemsLoss<Matrix>> batch(loss, n_together,
                                                      options.resolved_threads(),
                                                      options.should_stop);
    batch.run(n_problems, [&](int p, auto& objective) {
      Eigen::VectorXd w = start_of(p);
      reports[static_cast<size_t>(p)] = solve(objective, w, options, p, traits);
      store_units(w, X.cols(), 1, options.fit_intercept, p, coef, intercept);
    });
  }
  return Model<Scalar>(strategy, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

}  // namespace multilogit::detail
