// Binary problems solved together (one pass over each group of rows per round for all of them):
// one-vs-all's and one-vs-one's against the same problems solved one by one, and how the batch
// stops on errors and interrupts.
#include <atomic>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"
#include "linear_loss.hpp"
#include "links.hpp"
#include "binary_problems_loss.hpp"
#include "fit_binary_problems.hpp"
#include "training.hpp"

namespace {

using namespace multilogit;
using namespace test_data;

double relative_difference(const Model<double>& a, const Model<double>& b) {
  const double coef = (a.coef() - b.coef()).norm() / b.coef().norm();
  const double intercept =
      (a.intercept() - b.intercept()).norm() / std::max(b.intercept().norm(), 1.0);
  return std::max(coef, intercept);
}

bool identical(const Model<double>& a, const Model<double>& b) {
  return (a.coef().array() == b.coef().array()).all() &&
         (a.intercept().array() == b.intercept().array()).all();
}

// The rows of X as the groups of `strategy`'s problems (all rows; the rows of each class), with
// the index lists they read through.
template <typename Matrix>
struct ProblemRows {
  ProblemRows(Strategy strategy, const Matrix& X, const Eigen::VectorXi& y, int n_classes)
      : rows_of_class(detail::rows_by_class(y, n_classes)) {
    if (strategy == Strategy::OneVsAll) {
      groups.emplace_back(X);
      problems = detail::one_vs_all_problems(n_classes);
      return;
    }
    if constexpr (!detail::RowSet<Matrix>::kWholeOnly) {
      for (const auto& rows : rows_of_class) {
        groups.emplace_back(X, rows.data(), static_cast<Index>(rows.size()));
      }
      problems = detail::one_vs_one_problems(n_classes);
      for (const detail::BinaryProblem& pair : problems) {
        std::vector<Index> rows;
        for (int c : pair.groups) {
          const auto& of_class = rows_of_class[static_cast<size_t>(c)];
          rows.insert(rows.end(), of_class.begin(), of_class.end());
        }
        pair_rows.push_back(std::move(rows));
      }
    }
  }

  // Problem p's rows on their own.
  detail::RowSet<Matrix> rows_of(const Matrix& X, int p) const {
    if constexpr (detail::RowSet<Matrix>::kWholeOnly) {
      return detail::RowSet<Matrix>(X);
    } else {
      if (pair_rows.empty()) return detail::RowSet<Matrix>(X);
      const auto& rows = pair_rows[static_cast<size_t>(p)];
      return detail::RowSet<Matrix>(X, rows.data(), static_cast<Index>(rows.size()));
    }
  }

  std::vector<std::vector<Index>> rows_of_class;
  std::vector<detail::RowSet<Matrix>> groups;
  std::vector<detail::BinaryProblem> problems;
  std::vector<std::vector<Index>> pair_rows;  // one-vs-one
};

// The model of `strategy` fitted as its binary problems one after the other, each with its own
// LinearLoss on its own rows.
template <typename Matrix>
Model<double> separate_fits(Strategy strategy, const Matrix& X, const Eigen::VectorXi& y,
                            int n_classes, const TrainOptions& options, const double* weights,
                            const Model<double>* initial = nullptr) {
  const ProblemRows<Matrix> sets(strategy, X, y, n_classes);
  const int n_problems = static_cast<int>(sets.problems.size());
  RowMatrix<double> coef(n_problems, X.cols());
  Eigen::VectorXd intercept(n_problems);
  std::vector<ProblemReport> reports;
  for (int p = 0; p < n_problems; ++p) {
    reports.push_back(detail::fit_binary_problem(sets.rows_of(X, p), y,
                                                 sets.problems[static_cast<size_t>(p)].positive,
                                                 options, weights, initial, nullptr, p, p, coef,
                                                 intercept));
  }
  return Model<double>(strategy, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

template <typename Matrix>
Model<double> separate_fits(const Matrix& X, const Eigen::VectorXi& y, int n_classes,
                            const TrainOptions& options, const double* weights,
                            const Model<double>* initial = nullptr) {
  return separate_fits(Strategy::OneVsAll, X, y, n_classes, options, weights, initial);
}

// Sparse copies of a dense matrix with views of them.
struct SparseCopies {
  explicit SparseCopies(const Eigen::MatrixXd& X) : csr(X.sparseView()), csc(X.sparseView()) {}
  CsrView csr_view() const {
    return CsrView(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                   csr.innerIndexPtr(), csr.valuePtr());
  }
  CscView csc_view() const {
    return CscView(csc.rows(), csc.cols(), csc.nonZeros(), csc.outerIndexPtr(),
                   csc.innerIndexPtr(), csc.valuePtr());
  }
  Eigen::SparseMatrix<double, Eigen::RowMajor> csr;
  Eigen::SparseMatrix<double, Eigen::ColMajor> csc;
};

// The batched loss against one LinearLoss per problem: any subset of the problems, each at its
// own point, in any order.
template <typename Matrix>
void check_batched_loss(Strategy strategy, const Matrix& X, const Eigen::VectorXi& y,
                        const Eigen::VectorXd& s, bool fit_intercept) {
  const int n_classes = 4;
  const ProblemRows<Matrix> sets(strategy, X, y, n_classes);
  const int n_problems = static_cast<int>(sets.problems.size());
  detail::ThreadPool pool(2);
  using Loss = detail::BinaryProblemsLoss<Matrix>;
  Loss batched(sets.groups, sets.problems, y.data(), s.data(), n_problems, fit_intercept, 0.7,
               0.0, &pool);
  const Index p = batched.dimension();
  std::vector<Eigen::VectorXd> points, directions, gradients(n_problems), products(n_problems);
  std::vector<Eigen::MatrixXd> hessians(n_problems);
  std::vector<typename Loss::Request> requests(n_problems);
  for (int k = 0; k < n_problems; ++k) {
    points.push_back(Eigen::VectorXd::LinSpaced(p, -0.2 * k, 0.1 + 0.05 * k));
    directions.push_back(Eigen::VectorXd::LinSpaced(p, 1.0, -0.5 * k));
    gradients[k].resize(p);
    products[k].resize(p);
  }
  // Problems 2 and 0 in slots 0 and 3, then problem 3 alone in slot 1, then (one-vs-one: pairs
  // (1, 3) and (2, 3), sharing a group) problems 4 and 5 in slots 3 and 0.
  std::vector<std::vector<std::pair<int, int>>> passes = {{{2, 0}, {0, 3}}, {{3, 1}}};
  if (n_problems > 4) passes.push_back({{4, 3}, {5, 0}});
  using Ask = typename Loss::Ask;
  // What request asks for, and where.
  const auto ask = [&](typename Loss::Request* request, Ask what) {
    const int problem = request->problem;
    request->ask = what;
    request->input = what == Ask::Evaluate ? &points[problem] : &directions[problem];
    request->vector_out = what == Ask::Evaluate ? &gradients[problem] : &products[problem];
    request->matrix_out = &hessians[problem];
  };
  for (const auto& pass : passes) {
    std::vector<typename Loss::Request*> batch;
    for (const auto& [problem, slot] : pass) {
      auto& request = requests[problem];
      request.slot = slot;
      request.problem = problem;
      request.keep_curvature = true;
      ask(&request, Ask::Evaluate);
      batch.push_back(&request);
    }
    batched.serve(batch);
    // A mixed pass: the first problem's H v beside the others' evaluations again; then the
    // others' H v, and everyone's Hessian.
    ask(batch.front(), Ask::HessianProduct);
    batched.serve(batch);
    for (auto* request : batch) ask(request, Ask::HessianProduct);
    batched.serve({batch.begin() + 1, batch.end()});
    for (auto* request : batch) ask(request, Ask::Hessian);
    batched.serve(batch);

    for (const auto& [problem, slot] : pass) {
      SCOPED_TRACE("problem " + std::to_string(problem));
      detail::LinearLoss<Matrix, detail::BinaryLink> single(
          sets.rows_of(X, problem), y.data(), s.data(),
          detail::BinaryLink{sets.problems[static_cast<size_t>(problem)].positive}, 1,
          fit_intercept, 0.7, 0.0, nullptr);
      single.keep_curvature(true);
      Eigen::VectorXd g(p), Hv(p);
      Eigen::MatrixXd H;
      const double f = single.evaluate(points[problem], g);
      single.hessian_product(directions[problem], Hv);
      single.hessian(H);
      EXPECT_NEAR(requests[problem].value, f, 1e-14 * std::abs(f));
      EXPECT_LT((gradients[problem] - g).norm(), 1e-13 * g.norm());
      EXPECT_LT((products[problem] - Hv).norm(), 1e-13 * Hv.norm());
      EXPECT_LT((hessians[problem] - H).norm(), 1e-13 * H.norm());
    }
  }
}

template <typename Matrix>
void check_batched_loss(const Matrix& X, const Eigen::VectorXi& y, const Eigen::VectorXd& s,
                        bool fit_intercept) {
  {
    SCOPED_TRACE("one-vs-all");
    check_batched_loss(Strategy::OneVsAll, X, y, s, fit_intercept);
  }
  if constexpr (!detail::RowSet<Matrix>::kWholeOnly) {
    SCOPED_TRACE("one-vs-one");
    check_batched_loss(Strategy::OneVsOne, X, y, s, fit_intercept);
  }
}

TEST(BinaryProblemsLoss, MatchesOneLinearLossPerProblem) {
  const auto data = make_blobs(4, 1500, 9, 2.0);  // several chunks and slabs
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(data.X.rows(), 0.2, 2.0);
  const RowMatrix<double> row_major = data.X;
  const SparseCopies sparse(data.X);
  for (bool fit_intercept : {true, false}) {
    SCOPED_TRACE(fit_intercept ? "with intercept" : "without intercept");
    check_batched_loss(ColMajorView(data.X), data.y, weights, fit_intercept);
    check_batched_loss(RowMajorView(row_major), data.y, weights, fit_intercept);
    check_batched_loss(sparse.csr_view(), data.y, weights, fit_intercept);
    check_batched_loss(sparse.csc_view(), data.y, weights, fit_intercept);
  }
}

TEST(BinaryProblemsLoss, RefusesRequestsItCannotServe) {
  const auto data = make_blobs(3, 50, 3, 1.0);
  const ColMajorView X(data.X);
  detail::BinaryProblemsLoss<ColMajorView> loss({detail::RowSet<ColMajorView>(X)},
                                                detail::one_vs_all_problems(3), data.y.data(),
                                                nullptr, 3, true, 1.0, 0.0, nullptr);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(loss.dimension()), g(loss.dimension());
  using Loss = detail::BinaryProblemsLoss<ColMajorView>;
  Loss::Request request, other;
  request.input = other.input = &w;
  request.vector_out = other.vector_out = &g;
  other.slot = 1;
  loss.serve({&request});
  request.ask = Loss::Ask::HessianProduct;
  EXPECT_THROW(loss.serve({&request}), std::logic_error);
  // Hessians are not mixed with other requests.
  request.keep_curvature = true;
  request.ask = Loss::Ask::Evaluate;
  loss.serve({&request});
  Eigen::MatrixXd H;
  request.ask = Loss::Ask::Hessian;
  request.matrix_out = &H;
  EXPECT_THROW(loss.serve({&request, &other}), std::logic_error);
  loss.serve({&request});
  EXPECT_EQ(H.rows(), loss.dimension());
}

// `strategy`'s classifier fitted with `options`.
template <typename Matrix>
Model<double> batched_fit(Strategy strategy, const TrainOptions& options, const Matrix& X,
                          const Eigen::VectorXi& y, int n_classes, const Eigen::VectorXd& weights) {
  if (strategy == Strategy::OneVsAll) {
    return OneVsAllClassifier<double>(options).fit(X, y, n_classes, weights);
  }
  return OneVsOneClassifier<double>(options).fit(X, y, n_classes, weights);
}

// Every solver, every storage, weighted rows: the batched fit reaches the optimum of the
// separate fits, and the same model bitwise for any number of threads.
template <typename Matrix>
void check_batched_fit(const Matrix& X, const Eigen::VectorXi& y, int n_classes,
                       const Eigen::VectorXd& weights, const char* storage) {
  for (Strategy strategy : {Strategy::OneVsAll, Strategy::OneVsOne}) {
    // Compressed columns cannot be read by row: their one-vs-one pairs are fitted one by one
    // (test_sparse.cpp compares them with the other storages).
    if (detail::RowSet<Matrix>::kWholeOnly && strategy == Strategy::OneVsOne) continue;
    for (Solver solver : {Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky, Solver::Auto}) {
      SCOPED_TRACE(std::string(to_string(strategy)) + ", " + storage + ", " +
                   std::string(to_string(solver)));
      const Model<double> reference =
          separate_fits(strategy, X, y, n_classes, tight(solver), weights.data());
      const Model<double> batched =
          batched_fit(strategy, tight(solver, 1), X, y, n_classes, weights);
      EXPECT_LT(relative_difference(batched, reference), 1e-8);
      for (size_t k = 0; k < batched.reports().size(); ++k) {
        EXPECT_TRUE(batched.reports()[k].converged());
        EXPECT_NEAR(batched.reports()[k].objective, reference.reports()[k].objective, 1e-12);
      }
      for (int threads : {2, 3}) {
        const Model<double> other =
            batched_fit(strategy, tight(solver, threads), X, y, n_classes, weights);
        EXPECT_TRUE(identical(other, batched)) << threads << " threads";
      }
    }
  }
}

// Whether one-vs-one fits these data's pairs together (else one by one).
bool pairs_together(const Blobs& data, int n_classes) {
  return detail::pairs_share_passes(detail::rows_by_class(data.y, n_classes),
                                    detail::stored_values(data.X));
}

TEST(BinaryProblemsBatch, MatchSeparateFitsForEverySolverAndStorage) {
  const auto data = make_blobs(5, 2000, 25, 10.0);
  ASSERT_TRUE(pairs_together(data, 5));
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(data.X.rows(), 0.1, 3.0);
  const RowMatrix<double> row_major = data.X;
  const SparseCopies sparse(data.X);
  check_batched_fit(ColMajorView(data.X), data.y, 5, weights, "column-major");
  check_batched_fit(RowMajorView(row_major), data.y, 5, weights, "row-major");
  check_batched_fit(sparse.csr_view(), data.y, 5, weights, "CSR");
  check_batched_fit(sparse.csc_view(), data.y, 5, weights, "CSC");
}

// The L1 weight of a problem depends on its rows' weight sum S_p (one-vs-one: its pair's).
TEST(BinaryProblemsBatch, MatchSeparateFitsWithAnL1Part) {
  const auto data = make_blobs(4, 300, 8, 2.0);
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(data.X.rows(), 0.5, 1.5);
  TrainOptions options = tight(Solver::Auto);  // OWL-QN
  options.l1_ratio = 0.6;
  options.C = 0.05;
  const ColMajorView X(data.X);
  for (Strategy strategy : {Strategy::OneVsAll, Strategy::OneVsOne}) {
    SCOPED_TRACE(to_string(strategy));
    const Model<double> reference =
        separate_fits(strategy, X, data.y, 4, options, weights.data());
    const Model<double> batched = batched_fit(strategy, options, X, data.y, 4, weights);
    EXPECT_LT(relative_difference(batched, reference), 1e-7);
    EXPECT_GT((batched.coef().array() == 0.0).count(), 0);  // the L1 part is at work
  }
}

// Problem 0 starts at its optimum and stops at once; the others go on, each to its own
// tolerance, and match their separate fits.
TEST(OneVsAllBatch, ProblemsStopEachOnItsOwn) {
  const auto data = make_blobs(4, 400, 5, 2.0);
  const ColMajorView X(data.X);
  const Eigen::VectorXd ones = Eigen::VectorXd::Ones(X.rows());
  for (Solver solver : {Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
    SCOPED_TRACE(to_string(solver));
    const TrainOptions options = tight(solver, 2);
    const Model<double> optimum = separate_fits(X, data.y, 4, options, nullptr);
    RowMatrix<double> coef = RowMatrix<double>::Zero(4, X.cols());
    Eigen::VectorXd intercept = Eigen::VectorXd::Zero(4);
    coef.row(0) = optimum.coef().row(0);
    intercept[0] = optimum.intercept()[0];
    const Model<double> start(Strategy::OneVsAll, 4, coef, intercept, {});

    const Model<double> batched =
        OneVsAllClassifier<double>(options).fit(X, data.y, 4, ones, &start);
    const Model<double> reference = separate_fits(X, data.y, 4, options, ones.data(), &start);
    EXPECT_EQ(batched.reports()[0].n_iter, 0);
    for (int k = 1; k < 4; ++k) {
      EXPECT_GT(batched.reports()[k].n_iter, 2) << "problem " << k;
      EXPECT_TRUE(batched.reports()[k].converged()) << "problem " << k;
      EXPECT_LE(batched.reports()[k].gradient_norm, options.tol);
    }
    EXPECT_LT(relative_difference(batched, reference), 1e-8);
  }
}

// More problems than are solved at a time: later problems take the slots of finished ones.
// One-vs-one with 12 classes has 66 pairs; the curvature budget (a share of X) leaves it 9 slots
// with 8 features, 64 with 300 (where newton-cg stands in for newton-cholesky, too slow there).
TEST(BinaryProblemsBatch, ManyProblemsTakeTurns) {
  for (Strategy strategy : {Strategy::OneVsAll, Strategy::OneVsOne}) {
    const int n_classes = strategy == Strategy::OneVsAll ? 70 : 12;
    for (auto [per_class, d] : {std::pair(12, 3), std::pair(6250, 8), std::pair(170, 300)}) {
      if ((d == 3) != (strategy == Strategy::OneVsAll)) continue;
      const auto data = make_blobs(n_classes, per_class, d, 3.0);
      if (strategy == Strategy::OneVsOne) {
        ASSERT_TRUE(pairs_together(data, n_classes));
      }
      const ColMajorView X(data.X);
      const Eigen::VectorXd ones = Eigen::VectorXd::Ones(X.rows());
      const Solver newton = d > 100 ? Solver::NewtonCg : Solver::NewtonCholesky;
      for (Solver solver : {Solver::Lbfgs, newton}) {
        SCOPED_TRACE(std::string(to_string(strategy)) + ", " + std::to_string(per_class) +
                     " x " + std::to_string(d) + ", " +
                     std::string(to_string(solver)));
        TrainOptions options = tight(solver, 1);
        options.tol = 1e-8;
        // The automatic number of L-BFGS pairs depends on how many problems share X; the pairs
        // with 300 features are flat enough that paths with different pairs agree to 1e-8 in
        // the gradient but not to 1e-6 in the coefficients.
        options.lbfgs_memory = 10;
        const Model<double> reference =
            separate_fits(strategy, X, data.y, n_classes, options, nullptr);
        const Model<double> batched = batched_fit(strategy, options, X, data.y, n_classes, ones);
        EXPECT_LT(relative_difference(batched, reference), 1e-6);
        options.n_threads = 3;
        EXPECT_TRUE(identical(batched_fit(strategy, options, X, data.y, n_classes, ones), batched));
      }
    }
  }
}

// Progress reports name each problem by its class, count its iterations from 1 and end with
// one finished report.
TEST(OneVsAllBatch, ReportsProgressPerClass) {
  const auto data = make_blobs(5, 200, 4, 2.0);
  for (Solver solver : {Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
    SCOPED_TRACE(to_string(solver));
    std::map<int, std::vector<IterationInfo>> seen;
    TrainOptions options = tight(solver, 2);
    options.on_iteration = [&seen](const IterationInfo& info) {
      seen[info.problem].push_back(info);
    };
    const Model<double> model = train(Strategy::OneVsAll, data.X, data.y, 5, options);
    ASSERT_EQ(seen.size(), 5u);
    for (const auto& [problem, infos] : seen) {
      const ProblemReport& report = model.reports()[static_cast<size_t>(problem)];
      ASSERT_EQ(static_cast<int>(infos.size()), report.n_iter + 1);
      for (int i = 0; i < report.n_iter; ++i) {
        EXPECT_EQ(infos[i].iteration, i + 1);
        EXPECT_FALSE(infos[i].finished);
      }
      EXPECT_TRUE(infos.back().finished);
      EXPECT_EQ(infos.back().objective, report.objective);
    }
  }
}

// A stop requested from a callback, an exception thrown by one, or one problem refusing its
// solver stops every problem and surfaces from fit.
TEST(OneVsAllBatch, ErrorsAndInterruptsStopTheWholeFit) {
  const auto data = make_blobs(6, 300, 5, 3.0);
  for (Solver solver : {Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
    SCOPED_TRACE(to_string(solver));
    for (int threads : {1, 3}) {
      TrainOptions options = tight(solver, threads);
      std::atomic<int> polls{0};
      options.should_stop = [&polls] { return ++polls >= 7; };  // mid-fit
      EXPECT_THROW(train(Strategy::OneVsAll, data.X, data.y, 6, options), Interrupted);

      options = tight(solver, threads);
      std::atomic<int> iterations{0};
      options.on_iteration = [&iterations](const IterationInfo& info) {
        if (info.problem == 4 && ++iterations == 2) throw std::bad_alloc();
      };
      EXPECT_THROW(train(Strategy::OneVsAll, data.X, data.y, 6, options), std::bad_alloc);
    }
  }
  // Too many parameters for newton-cholesky: refused in every problem's thread.
  const auto wide = make_blobs(3, 4, detail::kMaxCholeskyParameters + 1, 1.0);
  EXPECT_THROW(train(Strategy::OneVsAll, wide.X, wide.y, 3, tight(Solver::NewtonCholesky, 2)),
               std::invalid_argument);
}

}  // namespace
