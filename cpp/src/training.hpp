// Pieces every strategy's training loop shares: input checks, running the solver on one
// problem, and unpacking its solution into model rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "linear_loss.hpp"
#include "links.hpp"
#include "multilogit/lbfgs.hpp"
#include "multilogit/model.hpp"
#include "multilogit/newton.hpp"
#include "multilogit/options.hpp"
#include "multilogit/trainers.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

// The message of every finiteness check of X (the Python package recognises it).
constexpr const char* kNonFiniteX = "X contains NaN or infinity";

// Throws unless every stored value of X is finite and, for sparse X, its index arrays describe
// a valid matrix (so that nothing reads outside them).
template <typename Matrix>
void check_values(const Matrix& X) {
  if constexpr (is_sparse_v<Matrix>) {
    const auto* outer = X.outerIndexPtr();
    const auto* inner = X.innerIndexPtr();
    const Index n_outer = X.outerSize(), n_inner = X.innerSize();
    if (outer[0] != 0 || static_cast<Index>(outer[n_outer]) != X.nonZeros()) {
      throw std::invalid_argument("sparse X: indptr must start at 0 and end at the number of stored values");
    }
    for (Index k = 0; k < n_outer; ++k) {
      if (outer[k + 1] < outer[k]) throw std::invalid_argument("sparse X: indptr is not non-decreasing");
    }
    for (Index k = 0; k < X.nonZeros(); ++k) {
      if (inner[k] < 0 || static_cast<Index>(inner[k]) >= n_inner) {
        throw std::invalid_argument("sparse X: index " + std::to_string(inner[k]) +
                                    " out of range [0, " + std::to_string(n_inner) + ")");
      }
    }
    const Eigen::Map<const Vector<typename Matrix::Scalar>> values(X.valuePtr(), X.nonZeros());
    if (!values.allFinite()) throw std::invalid_argument(kNonFiniteX);
  } else {
    if (!kernels<typename Matrix::Scalar>().all_finite(dense_block(X))) {
      throw std::invalid_argument(kNonFiniteX);
    }
  }
}

// Throws unless X, y and the fit inputs are a valid training set for `strategy`.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
void check_training_data(Strategy strategy, const Matrix& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) {
  if (n_classes < 2) {
    throw std::invalid_argument("at least 2 classes are needed, got n_classes = " +
                                std::to_string(n_classes));
  }
  if (X.rows() == 0) throw std::invalid_argument("X has no rows (0 samples)");
  if (X.cols() == 0) throw std::invalid_argument("X has no columns (0 features)");
  if (y.size() != X.rows()) {
    throw std::invalid_argument("X has " + std::to_string(X.rows()) + " rows but y has " +
                                std::to_string(y.size()) + " labels");
  }
  std::vector<Index> class_size(static_cast<size_t>(n_classes), 0);
  std::vector<double> class_weight(static_cast<size_t>(n_classes), 0.0);
  const double* weights = inputs.sample_weight;
  for (Index i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= n_classes) {
      throw std::invalid_argument("label " + std::to_string(y[i]) + " at row " +
                                  std::to_string(i) + " is outside [0, " +
                                  std::to_string(n_classes) + ")");
    }
    if (weights && (!(weights[i] >= 0.0) || !std::isfinite(weights[i]))) {
      throw std::invalid_argument("sample_weight must be finite and >= 0, got " +
                                  std::to_string(weights[i]) + " at row " + std::to_string(i));
    }
    ++class_size[static_cast<size_t>(y[i])];
    class_weight[static_cast<size_t>(y[i])] += weights ? weights[i] : 1.0;
  }
  for (int k = 0; k < n_classes; ++k) {
    if (class_size[static_cast<size_t>(k)] == 0) {
      throw std::invalid_argument("class " + std::to_string(k) + " has no samples");
    }
    if (!(class_weight[static_cast<size_t>(k)] > 0.0)) {
      throw std::invalid_argument("class " + std::to_string(k) + " has zero total sample_weight");
    }
  }
  if (const Model<Scalar>* initial = inputs.initial) {
    if (initial->strategy() != strategy || initial->n_classes() != n_classes ||
        initial->n_features() != X.cols()) {
      throw std::invalid_argument(
          "the initial model does not match the fit: strategy '" +
          std::string(to_string(initial->strategy())) + "', " +
          std::to_string(initial->n_classes()) + " classes, " +
          std::to_string(initial->n_features()) + " features against '" +
          std::string(to_string(strategy)) + "', " + std::to_string(n_classes) + ", " +
          std::to_string(X.cols()));
    }
  }
  check_values(X);
}

// Rows of each class, as ascending index lists.
inline std::vector<std::vector<Index>> rows_by_class(const LabelView& y, int n_classes) {
  std::vector<std::vector<Index>> rows(static_cast<size_t>(n_classes));
  for (Index i = 0; i < y.size(); ++i) rows[static_cast<size_t>(y[i])].push_back(i);
  return rows;
}

// The full Hessian of newton-cholesky is p x p for p parameters: beyond this many (128 MiB of
// Hessian, and as much for its factor) the solver is refused.
constexpr Index kMaxCholeskyParameters = 4096;

// What the automatic choice of L-BFGS memory weighs about a problem.
struct ProblemTraits {
  double history_values = 0;  // values the L-BFGS correction pairs of one problem may hold
};

// Values the L-BFGS correction pairs of each of `problems` problems solved at once may hold:
// together, as many as X stores, or 2^20 (8 MiB) when X is smaller. The floor keeps the choice
// below from depending on n for small data, so that weighted rows and repeated rows still take
// the same path.
inline double history_values(double x_values, int problems) {
  constexpr double kAlwaysAffordable = 1 << 20;
  return std::max(x_values, kAlwaysAffordable) / problems;
}

// Correction pairs for L-BFGS and OWL-QN when TrainOptions::lbfgs_memory is 0. A pair holds
// 2 p values and adds 4 p flops to an iteration, against a pass's 4 n p or more (dense X), so
// more pairs are nearly free until their storage rivals X's. They pay off: with 40 pairs instead
// of 10, one-vs-all and one-vs-one took 1.4-1.8x less time to reach within 1e-6 of the optimum
// on synthetic and usps; with 80, ill-conditioned usps gained another 1.1-1.25x, with 160 little
// more. Never fewer than 10, the classic choice: huge sparse problems keep what they had.
inline int automatic_lbfgs_memory(Index n_parameters, double history_values) {
  constexpr double kFewest = 10, kMost = 100;
  const double fitting = history_values / (2.0 * static_cast<double>(n_parameters));
  return static_cast<int>(std::clamp(std::floor(fitting), kFewest, kMost));
}

// The traits of a problem on `rows`, one of `problems` solved at once.
template <typename Matrix>
ProblemTraits traits_of(const RowSet<Matrix>& rows, int problems) {
  return ProblemTraits{history_values(rows.stored_values(), problems)};
}

// The solver `requested` resolves to, without an L1 part (which always takes OWL-QN).
//
// Auto, from python benchmarks/bench_solvers.py (time to within 1e-6 of the optimum, as
// bench_fit.py measures; seconds, best of 3, 2 cores, float64, C = 1; * marks the choice then;
// L-BFGS with its automatic memory, up to 100 correction pairs; ovo's pairs advance together on
// synthetic, usps and the 100000-row sets, else one by one; NxDxK: make_classification shapes
// given as --shapes, K = 2 being one binary problem):
//   data (n x d, K)          strategy  p     lbfgs   newton-cg  newton-cholesky
//   synthetic 100000x100, 10 softmax   1010  0.914   0.675*     3.093
//                            ovr       101   0.318*  0.512      0.909
//                            ovo       101   0.554*  1.040      1.411
//   digits 1347x64, 10       softmax   650   0.0079  0.0094*    0.1068
//                            ovr       65    0.0106* 0.0185     0.0170
//                            ovo       65    0.0070* 0.0126     0.0166
//   letter 15000x16, 26      softmax   442   0.127   0.112*     0.704
//                            ovr       17    0.069*  0.064      0.059
//                            ovo       17    0.062*  0.095      0.047
//   usps 5468x256, 10        softmax   2570  0.679   0.579*     8.376
//                            ovr       257   0.184*  0.301      0.727
//                            ovo       257   0.138*  0.211      1.004
//   100000x20x10             ovr       21    0.118*  0.159      0.161
//                            ovo       21    0.156*  0.275      0.183
//   100000x60x10             ovr       61    0.175*  0.239      0.427
//                            ovo       61    0.291*  0.453      0.597
//   20000x30x20              ovr       31    0.063*  0.096      0.118
//                            ovo       31    0.111*  0.193      0.117
//   100000x16x10             ovr       17    0.107*  -          0.144
//                            ovo       17    0.146*  -          0.149
//   20000x12x26              ovr       13    0.030*  -          0.044
//                            ovo       13    0.069*  -          0.058
//   50000x24x10              ovr       25    0.070*  -          0.117
//                            ovo       25    0.089*  -          0.103
//   100000x60x2              binary    61    0.096*  0.122      0.102
//   20000x200x2              binary    201   0.099*  0.129      0.133
//   5000x100x2               binary    101   0.0087* 0.0147     0.0114
//   100000x300x2             binary    301   0.653*  0.838      0.930
// The newton-cg column predates its Jacobi preconditioning, which made softmax's newton-cg
// 1.4-2.2x faster on synthetic, usps and letter (newton_cg.cpp). With it, L-BFGS stayed the
// faster for binary problems: newton-cg took 1.13-5.8x its time on ovr and 1.3-2.5x on ovo on
// the four data sets. L-BFGS's preconditioning of binary problems
// (binary_lbfgs_initial_inverse_hessian) came after the table and cut its iterations further
// (usps ovo 61 -> 36, synthetic ovo 44 -> 25), which only widens its lead there.
// Softmax: the full Hessian (n d^2 K^2 / 2) never pays. Newton-CG (a fused pass per
// Hessian-vector product) beat the unpreconditioned L-BFGS of the table by 1.14-1.35x except on
// small digits; with softmax's own H0 (softmax_lbfgs_initial_inverse_hessian) L-BFGS took, in
// one run (best of 3), digits 0.0074 s against newton-cg's 0.0119, letter 0.036 against 0.049,
// usps 0.350 against 0.430, synthetic 0.428 against 0.418, and on make_classification shapes
// 2000x30x5, 5000x20x20, 10000x50x10, 50000x200x5 0.85-0.98x newton-cg's time, on 1000x64x10,
// 3000x100x10, 1500x200x4 1.0-1.3x (best of 7). So Auto takes L-BFGS for softmax too.
// Binary problems: L-BFGS was the fastest or within 1.35x at every measured shape.
// Newton-Cholesky won on letter and the 26-class pairs, but lost by up to 1.9x elsewhere at as
// few parameters, and a rule on shape alone cannot tell those apart: each of its few iterations
// pays for a Gram matrix per problem (about p / 4 passes), each of L-BFGS's many one pass.
// Sparse X was not measured: L-BFGS.
inline Solver resolve_solver(Solver requested) {
  return requested == Solver::Auto ? Solver::Lbfgs : requested;
}

// Passes progress to the options' callback; callbacks never run concurrently (one at a time per
// program).
inline void report_progress(const TrainOptions& options, const IterationInfo& info) {
  static std::mutex report_mutex;
  std::lock_guard<std::mutex> lock(report_mutex);
  options.on_iteration(info);
}

// The settings of the solver of `problem` (of `dimension` parameters), which reports its
// iterations as that problem's and stops when the options ask.
inline LbfgsSettings solver_settings(const TrainOptions& options, Index dimension,
                                     const ProblemTraits& traits, int problem) {
  LbfgsSettings settings;
  settings.tol = options.tol;
  settings.max_iter = options.max_iter;
  settings.memory = options.lbfgs_memory > 0
                        ? options.lbfgs_memory
                        : automatic_lbfgs_memory(dimension, traits.history_values);
  if (options.on_iteration || options.should_stop) {
    settings.on_iteration = [&options, problem](int iteration, double value, double norm) {
      if (options.on_iteration) {
        report_progress(options, IterationInfo{problem, iteration, value, norm});
      }
      if (options.should_stop && options.should_stop()) throw Interrupted();
    };
  }
  return settings;
}

// The report of `problem`, whose solver ended with `result`, after reporting its end.
inline ProblemReport final_report(const TrainOptions& options, int problem,
                                  const SolverResult& result) {
  if (options.on_iteration) {
    report_progress(options, IterationInfo{problem, result.n_iter, result.objective,
                                           result.gradient_norm, true});
  }
  return ProblemReport{result.status, result.n_iter, result.objective, result.gradient_norm,
                       result.n_evaluations};
}

// Minimises `loss` (plus its L1 penalty, if any) from w and reports progress as `problem`.
template <class Loss>
ProblemReport solve(Loss& loss, Eigen::VectorXd& w, const TrainOptions& options, int problem,
                    const ProblemTraits& traits) {
  LbfgsSettings settings = solver_settings(options, loss.dimension(), traits, problem);
  const Eigen::VectorXd l1 = loss.l1_penalty();
  const Solver solver = resolve_solver(options.solver);
  if (solver == Solver::Lbfgs && !l1.size()) {
    settings.initial_inverse_hessian = loss.lbfgs_initial_inverse_hessian();
  }
  if (solver == Solver::NewtonCholesky && loss.dimension() > kMaxCholeskyParameters) {
    throw std::invalid_argument(
        "solver 'newton-cholesky' forms the full Hessian: at most " +
        std::to_string(kMaxCholeskyParameters) + " parameters per problem, got " +
        std::to_string(loss.dimension()) + "; use 'newton-cg' or 'lbfgs'");
  }
  loss.keep_curvature(!l1.size() && solver != Solver::Lbfgs);
  SolverResult result;
  if (l1.size()) {
    result = minimize_owlqn(loss, w, l1, settings);
  } else if (solver == Solver::NewtonCg) {
    result = minimize_newton_cg(loss, w, settings);
  } else if (solver == Solver::NewtonCholesky) {
    result = minimize_newton_cholesky(loss, w, settings);
  } else {
    result = minimize_lbfgs(loss, w, settings);
  }
  return final_report(options, problem, result);
}

// Copies the n_units units of solution w ([W (d x n_units), b]) into rows first_row... of a model.
template <typename Scalar>
void store_units(const Eigen::VectorXd& w, Index d, int n_units, bool fit_intercept,
                 Index first_row, RowMatrix<Scalar>& coef, Vector<Scalar>& intercept) {
  const Eigen::Map<const Eigen::MatrixXd> W(w.data(), d, n_units);
  coef.middleRows(first_row, n_units) = W.transpose().template cast<Scalar>();
  if (fit_intercept) {
    intercept.segment(first_row, n_units) = w.tail(n_units).template cast<Scalar>();
  } else {
    intercept.segment(first_row, n_units).setZero();
  }
}

// The starting point of the problem owning model rows [first_row, first_row + n_units): the
// initial model's coefficients for a warm start, else W = 0 and the constant predictor's
// intercepts (constant_predictor_intercepts). Iterations to within 1e-6 of the optimum, from 0
// and from there: one-vs-all 34 -> 32 (digits), 23 -> 20 (letter), 64 -> 62 (usps), 18 -> 16
// (the 100000 x 100 benchmark set); softmax 16 -> 11 (usps), 8 -> 7 (letter). Balanced
// one-vs-one pairs start near 0 anyway.
template <typename Scalar>
Eigen::VectorXd starting_point(const Model<Scalar>* initial, Index d, int n_units,
                               bool fit_intercept, Index first_row,
                               const Eigen::VectorXd& constant_intercepts) {
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d * n_units + (fit_intercept ? n_units : 0));
  if (initial) {
    Eigen::Map<Eigen::MatrixXd>(w.data(), d, n_units) =
        initial->coef().middleRows(first_row, n_units).transpose().template cast<double>();
    if (fit_intercept) {
      w.tail(n_units) = initial->intercept().segment(first_row, n_units).template cast<double>();
    }
  } else if (fit_intercept) {
    w.tail(n_units) = constant_intercepts;
  }
  return w;
}

// A binary logistic problem on rows: class `positive` against the others present.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
ProblemReport fit_binary_problem(const RowSet<Matrix>& rows, const LabelView& y,
                                 int positive, const TrainOptions& options,
                                 const FitInputs<Scalar>& inputs, ThreadPool* pool, int problem,
                                 Index first_row, RowMatrix<Scalar>& coef,
                                 Vector<Scalar>& intercept) {
  return fit_binary_problem(rows, y, positive, options, inputs.sample_weight,
                            inputs.initial, pool, problem, first_row, coef, intercept);
}

// The same with explicit per-row weights (null: all ones) and starting point.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
ProblemReport fit_binary_problem(const RowSet<Matrix>& rows, const LabelView& y, int positive,
                                 const TrainOptions& options, const double* weights,
                                 const Model<Scalar>* initial, ThreadPool* pool, int problem,
                                 Index first_row, RowMatrix<Scalar>& coef,
                                 Vector<Scalar>& intercept) {
  LinearLoss<Matrix, BinaryLink> loss(rows, y.data(), weights, BinaryLink{positive}, 1,
                                      options.fit_intercept, options.C, options.l1_ratio, pool);
  Eigen::VectorXd w = starting_point(initial, rows.n_features(), 1, options.fit_intercept,
                                     first_row, loss.constant_predictor_intercepts());
  const ProblemReport report =
      solve(loss, w, options, problem, traits_of(rows, 1));
  store_units(w, rows.n_features(), 1, options.fit_intercept, first_row, coef, intercept);
  return report;
}

// Two classes: every strategy is one binary problem with class 1 positive.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
Model<Scalar> fit_two_classes(Strategy strategy, const Matrix& X,
                              const LabelView& y, const TrainOptions& options,
                              const FitInputs<Scalar>& inputs) {
  ThreadPool pool(options.resolved_threads());
  RowMatrix<Scalar> coef(1, X.cols());
  Vector<Scalar> intercept(1);
  const ProblemReport report = fit_binary_problem(RowSet<Matrix>(X), y, 1, options, inputs,
                                                  &pool, 0, 0, coef, intercept);
  return Model<Scalar>(strategy, 2, std::move(coef), std::move(intercept), {report});
}

}  // namespace multilogit::detail
