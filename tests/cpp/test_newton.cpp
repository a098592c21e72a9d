// Second derivatives of the linear loss and the Newton solvers built on them.
#include <cmath>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/SparseCore>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"
#include "linear_loss.hpp"
#include "links.hpp"
#include "solver_steps.hpp"
#include "training.hpp"

namespace {

using namespace multilogit;
using namespace test_data;

// The fits' gradient tolerance: tight enough that solvers taking different paths agree to 1e-6
// in the coefficients of the ill-conditioned sparse problem below.
constexpr double kTol = 1e-10;

const Strategy kStrategies[] = {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne};

// 1200 weighted rows: several chunks per slab and several slabs (the dense chunk is 4096 / d
// rows at d = 64), with some entries zeroed so that CSR is genuinely sparse.
struct Problem {
  Eigen::MatrixXd X;
  Eigen::VectorXi y;
  Eigen::VectorXd weights;
};

Problem make_problem(int n_classes) {
  auto blobs = make_blobs(n_classes, 1200 / n_classes, 64, 2.0);
  for (Index i = 0; i < blobs.X.rows(); ++i) {
    for (Index j = 0; j < blobs.X.cols(); ++j) {
      if ((i * 5 + j * 3) % 3 == 0) blobs.X(i, j) = 0;
    }
  }
  blobs.X /= 4.0;
  return {blobs.X, blobs.y, Eigen::VectorXd::LinSpaced(blobs.X.rows(), 0.0, 2.0)};
}

// What LinearLoss's Jacobi preconditioner makes of r, from the full Hessian H, the features'
// centre mu (empty: none) and the L2 term's weight l2. Unit k's block of M is L^T diag(D, t) L,
// with L (w, b) = (w, b + mu.w) and D, t the diagonal of H in those coordinates; the units'
// blocks are independent. For softmax, M^-1 is taken on residuals without the shifts that leave
// the loss unchanged, and is 1 / l2 on the shift of all units' weights by one vector. With
// `power`, D, t and l2 are raised to it first (L-BFGS's H0 takes square roots).
template <class Link>
Eigen::VectorXd jacobi_preconditioned(const Eigen::MatrixXd& H, const Eigen::VectorXd& r,
                                      const Eigen::VectorXd& mu, Index d, int n_units,
                                      bool fit_intercept, double l2, double power = 1.0) {
  const Index p = r.size(), m = fit_intercept ? d + 1 : d;
  const auto weight = [&](int k, Index j) { return k * d + j; };
  const auto bias = [&](int k) { return d * n_units + k; };
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(p, p);
  for (int k = 0; k < n_units; ++k) {
    Eigen::MatrixXd L = Eigen::MatrixXd::Identity(m, m), D = Eigen::MatrixXd::Zero(m, m);
    double t = 0.0;
    if (fit_intercept) {
      t = H(bias(k), bias(k));
      // hessian() adds the same curvature to every pair of softmax intercepts, whose rows summed
      // to 0.
      if (Link::kShiftInvariant) t -= H.row(bias(k)).tail(n_units).sum() / n_units;
      D(d, d) = std::pow(t, power);
    }
    for (Index j = 0; j < d; ++j) {
      const double centre = mu.size() ? mu[j] : 0.0;
      const double cross = fit_intercept ? H(weight(k, j), bias(k)) : 0.0;
      D(j, j) = std::pow(
          H(weight(k, j), weight(k, j)) - 2 * centre * cross + centre * centre * t, power);
      if (fit_intercept) L(d, j) = centre;
    }
    const Eigen::MatrixXd block = L.transpose() * D * L;
    for (Index a = 0; a < m; ++a) {
      for (Index c = 0; c < m; ++c) {
        M(a < d ? weight(k, a) : bias(k), c < d ? weight(k, c) : bias(k)) = block(a, c);
      }
    }
  }
  if (!Link::kShiftInvariant) return M.ldlt().solve(r);
  const auto remove_shifts = [&](Eigen::VectorXd v) {
    Eigen::Map<Eigen::MatrixXd> W(v.data(), d, n_units);
    W.colwise() -= W.rowwise().mean();
    if (fit_intercept) v.tail(n_units).array() -= v.tail(n_units).mean();
    return v;
  };
  Eigen::VectorXd z = remove_shifts(M.ldlt().solve(remove_shifts(r)));
  const Eigen::Map<const Eigen::MatrixXd> R_W(r.data(), d, n_units);
  Eigen::Map<Eigen::MatrixXd>(z.data(), d, n_units).colwise() += R_W.rowwise().mean() / std::pow(l2, power);
  return z;
}

// Checks H v against central differences of the gradient along v, the full Hessian against
// H v and the preconditioner against the Hessian's diagonal, at a point away from the optimum.
template <typename Matrix, class Link>
void check_second_derivatives(const Matrix& X, const Problem& problem, const Link& link,
                              int n_units, bool fit_intercept, double C) {
  detail::ThreadPool pool(2);
  detail::LinearLoss<Matrix, Link> loss(detail::RowSet<Matrix>(X), problem.y.data(),
                                        problem.weights.data(), link, n_units, fit_intercept, C,
                                        0.0, &pool);
  loss.keep_curvature(true);
  const Index p = loss.dimension();
  const Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(p, -0.2, 0.3);
  Eigen::VectorXd g(p), g_plus(p), g_minus(p), Hv(p);
  Eigen::MatrixXd H;
  for (int trial = 0; trial < 3; ++trial) {
    Eigen::VectorXd v = Eigen::VectorXd::Random(p);
    if (Link::kShiftInvariant) {  // the gradient lives orthogonally to the flat directions
      const Index d = X.cols();
      Eigen::Map<Eigen::MatrixXd> V(v.data(), d, n_units);
      V.colwise() -= V.rowwise().mean();
      if (fit_intercept) v.tail(n_units).array() -= v.tail(n_units).mean();
    }
    const double h = 1e-5;
    loss.evaluate(w + h * v, g_plus);
    loss.evaluate(w - h * v, g_minus);
    loss.evaluate(w, g);
    loss.hessian_product(v, Hv);
    const Eigen::VectorXd numeric = (g_plus - g_minus) / (2 * h);
    EXPECT_LT((Hv - numeric).norm(), 1e-7 * numeric.norm()) << "trial " << trial;
    loss.hessian(H);
    EXPECT_LT((H * v - Hv).norm(), 1e-10 * Hv.norm()) << "trial " << trial;
    Eigen::VectorXd z(p);
    loss.precondition(Hv, z);
    const double l2 = 1.0 / (C * problem.weights.sum());
    // Dense features are centred at their weighted means, sparse ones not at all.
    Eigen::VectorXd mu;
    if (fit_intercept && !is_sparse_v<Matrix>) {
      mu = problem.X.transpose() * problem.weights / problem.weights.sum();
    }
    const Eigen::VectorXd expected =
        jacobi_preconditioned<Link>(H, Hv, mu, X.cols(), n_units, fit_intercept, l2);
    EXPECT_LT((z - expected).norm(), 1e-10 * expected.norm()) << "trial " << trial;
  }
}

template <class Link>
void check_every_storage(int n_classes, const Link& link, int n_units) {
  const Problem problem = make_problem(n_classes);
  const RowMatrix<double> row_major = problem.X;
  const Eigen::SparseMatrix<double, Eigen::RowMajor> csr = problem.X.sparseView();
  const CsrView sparse(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                       csr.innerIndexPtr(), csr.valuePtr());
  for (bool fit_intercept : {true, false}) {
    SCOPED_TRACE(fit_intercept ? "with intercept" : "without intercept");
    check_second_derivatives(ColMajorView(problem.X), problem, link, n_units, fit_intercept, 0.5);
    check_second_derivatives(RowMajorView(row_major), problem, link, n_units, fit_intercept, 0.5);
    check_second_derivatives(sparse, problem, link, n_units, fit_intercept, 0.5);
  }
}

TEST(SecondDerivatives, BinaryMatchFiniteDifferences) {
  check_every_storage(3, detail::BinaryLink{1}, 1);
}

TEST(SecondDerivatives, SoftmaxMatchFiniteDifferences) {
  check_every_storage(4, detail::SoftmaxLink{4}, 4);
}

// L-BFGS's H0 is the Jacobi preconditioner of the square root of the Hessian's diagonal where
// the fit starts from: the constant predictor's intercepts for softmax (every row's probabilities
// the classes' weighted shares, or 1 / K without intercepts), w = 0 for a binary unit.
template <class Link>
void check_lbfgs_initial_inverse_hessian(int n_classes, const Link& link, int n_units) {
  const Problem problem = make_problem(n_classes);
  const ColMajorView X(problem.X);
  for (bool fit_intercept : {true, false}) {
    SCOPED_TRACE(fit_intercept ? "with intercept" : "without intercept");
    detail::ThreadPool pool(2);
    detail::LinearLoss<ColMajorView, Link> loss(detail::RowSet<ColMajorView>(X), problem.y.data(),
                                                problem.weights.data(), link, n_units,
                                                fit_intercept, 0.5, 0.0, &pool);
    loss.keep_curvature(true);
    const Index p = loss.dimension();
    Eigen::VectorXd w = Eigen::VectorXd::Zero(p), g(p);
    if (Link::kShiftInvariant && fit_intercept) {
      w.tail(n_units) = loss.constant_predictor_intercepts();
    }
    loss.evaluate(w, g);
    Eigen::MatrixXd H;
    loss.hessian(H);
    Eigen::VectorXd mu;
    if (fit_intercept) mu = problem.X.transpose() * problem.weights / problem.weights.sum();
    const double l2 = 1.0 / (0.5 * problem.weights.sum());
    auto initial_inverse_hessian = loss.lbfgs_initial_inverse_hessian();
    for (int trial = 0; trial < 3; ++trial) {
      const Eigen::VectorXd r = Eigen::VectorXd::Random(p);
      Eigen::VectorXd q = r;
      initial_inverse_hessian(q);
      const Eigen::VectorXd expected =
          jacobi_preconditioned<Link>(H, r, mu, X.cols(), n_units, fit_intercept, l2, 0.5);
      EXPECT_LT((q - expected).norm(), 1e-10 * expected.norm()) << "trial " << trial;
    }
  }
}

TEST(LbfgsInitialInverseHessian, BinaryIsSquareRootJacobiAtZero) {
  check_lbfgs_initial_inverse_hessian(3, detail::BinaryLink{1}, 1);
}

TEST(LbfgsInitialInverseHessian, SoftmaxIsSquareRootJacobiAtTheStart) {
  check_lbfgs_initial_inverse_hessian(4, detail::SoftmaxLink{4}, 4);
}

TEST(SecondDerivatives, IdenticalForAnyThreadCount) {
  const Problem problem = make_problem(3);
  const ColMajorView X(problem.X);
  Eigen::VectorXd reference_Hv;
  Eigen::MatrixXd reference_H;
  for (int threads : {1, 3}) {
    detail::ThreadPool pool(threads);
    detail::LinearLoss<ColMajorView, detail::SoftmaxLink> loss(
        detail::RowSet<ColMajorView>(X), problem.y.data(), problem.weights.data(),
        detail::SoftmaxLink{3}, 3, true, 1.0, 0.0, &pool);
    loss.keep_curvature(true);
    const Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(loss.dimension(), -0.1, 0.1);
    Eigen::VectorXd g(loss.dimension()), Hv(loss.dimension());
    Eigen::MatrixXd H;
    loss.evaluate(w, g);
    loss.hessian_product(Eigen::VectorXd::LinSpaced(loss.dimension(), 1.0, -2.0), Hv);
    loss.hessian(H);
    if (threads == 1) {
      reference_Hv = Hv;
      reference_H = H;
    } else {
      EXPECT_TRUE((Hv.array() == reference_Hv.array()).all());
      EXPECT_TRUE((H.array() == reference_H.array()).all());
    }
  }
}

TEST(SecondDerivatives, NeedCurvatureKept) {
  const Problem problem = make_problem(3);
  const ColMajorView X(problem.X);
  detail::LinearLoss<ColMajorView, detail::BinaryLink> loss(
      detail::RowSet<ColMajorView>(X), problem.y.data(), nullptr, detail::BinaryLink{0}, 1, true,
      1.0, 0.0, nullptr);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(loss.dimension()), g(loss.dimension());
  loss.evaluate(w, g);
  EXPECT_THROW(loss.hessian_product(w, g), std::logic_error);
}

// The L-BFGS optimum, to which every solver must agree within what tol allows.
template <typename Data>
void check_same_optimum(const Data& X, const Eigen::VectorXi& y, int n_classes, double C,
                        bool fit_intercept) {
  for (Strategy strategy : kStrategies) {
    TrainOptions options = tight(Solver::Lbfgs, 1, kTol);
    options.C = C;
    options.fit_intercept = fit_intercept;
    const auto reference = make_trainer<double>(strategy, options)->fit(X, y, n_classes);
    for (Solver solver : {Solver::NewtonCg, Solver::NewtonCholesky, Solver::Auto}) {
      SCOPED_TRACE(std::string(to_string(strategy)) + " " + std::string(to_string(solver)));
      options.solver = solver;
      const auto model = make_trainer<double>(strategy, options)->fit(X, y, n_classes);
      for (const auto& report : model.reports()) {
        EXPECT_TRUE(report.converged());
        EXPECT_LE(report.gradient_norm, kTol);
      }
      for (size_t k = 0; k < model.reports().size(); ++k) {
        EXPECT_NEAR(model.reports()[k].objective, reference.reports()[k].objective,
                    1e-10 * std::abs(reference.reports()[k].objective));
      }
      EXPECT_LT((model.coef() - reference.coef()).norm(), 1e-6 * reference.coef().norm());
      EXPECT_LT((model.intercept() - reference.intercept()).norm(),
                1e-6 * (reference.coef().norm() + reference.intercept().norm()));
    }
  }
}

TEST(NewtonSolvers, ReachTheLbfgsOptimumForEveryStrategy) {
  const auto data = make_blobs(4, 150, 6, 2.5);
  check_same_optimum(data.X, data.y, 4, 1.0, true);
  check_same_optimum(data.X, data.y, 4, 100.0, false);
  const auto two = make_blobs(2, 150, 6, 2.5);
  check_same_optimum(two.X, two.y, 2, 1.0, true);
}

TEST(NewtonSolvers, ReachTheLbfgsOptimumOnSparseData) {
  const Problem problem = make_problem(3);
  const Eigen::SparseMatrix<double, Eigen::RowMajor> csr = problem.X.sparseView();
  check_same_optimum(CsrView(csr.rows(), csr.cols(), csr.nonZeros(), csr.outerIndexPtr(),
                             csr.innerIndexPtr(), csr.valuePtr()),
                     problem.y, 3, 1.0, true);
}

TEST(NewtonSolvers, IdenticalForAnyThreadCount) {
  const auto data = make_blobs(3, 2000, 8, 2.5);
  for (Solver solver : {Solver::NewtonCg, Solver::NewtonCholesky}) {
    for (Strategy strategy : kStrategies) {
      const auto reference = train(strategy, data.X, data.y, 3, tight(solver, 1, kTol));
      const auto other = train(strategy, data.X, data.y, 3, tight(solver, 3, kTol));
      EXPECT_TRUE((other.coef().array() == reference.coef().array()).all());
      EXPECT_TRUE((other.intercept().array() == reference.intercept().array()).all());
    }
  }
}

TEST(NewtonSolvers, HonourMaxIterAndReportEveryIteration) {
  const auto data = make_blobs(3, 200, 5, 1.0);
  for (Solver solver : {Solver::NewtonCg, Solver::NewtonCholesky}) {
    TrainOptions options = tight(solver, 1, kTol);
    options.max_iter = 2;
    std::vector<int> iterations;
    options.on_iteration = [&](const IterationInfo& info) {
      if (!info.finished) iterations.push_back(info.iteration);
    };
    const auto model = train(Strategy::Softmax, data.X, data.y, 3, options);
    EXPECT_EQ(model.reports()[0].n_iter, 2);
    EXPECT_EQ(model.reports()[0].status, SolverStatus::MaxIterations);
    EXPECT_EQ(iterations, (std::vector<int>{1, 2}));
  }
}

// f(x) = sum_i e^(x_i) - c_i x_i + x_i^2 / 2: smooth, strictly convex, not quadratic, so that
// the solvers iterate, and counts the evaluations of f and its gradient.
class CountedConvex final : public SecondOrderObjective {
 public:
  explicit CountedConvex(Eigen::VectorXd c) : c_(std::move(c)) {}
  Eigen::Index dimension() const override { return c_.size(); }
  double evaluate(const Eigen::VectorXd& x, Eigen::VectorXd& g) override {
    ++evaluations;
    point_ = x;
    g = x.array().exp().matrix() - c_ + x;
    return (x.array().exp() - c_.array() * x.array() + 0.5 * x.array().square()).sum();
  }
  void hessian_product(const Eigen::VectorXd& v, Eigen::VectorXd& product) override {
    product = (point_.array().exp() + 1.0).matrix().cwiseProduct(v);
  }
  void hessian(Eigen::MatrixXd& H) override {
    H = (point_.array().exp() + 1.0).matrix().asDiagonal();
  }

  int evaluations = 0;

 private:
  Eigen::VectorXd c_, point_;
};

TEST(Solvers, ReportEveryEvaluation) {
  Eigen::VectorXd c(4);
  c << 10.0, -3.0, 0.5, 40.0;
  using Minimise = SolverResult (*)(CountedConvex&, Eigen::VectorXd&, const LbfgsSettings&);
  const Minimise solvers[] = {
      [](CountedConvex& f, Eigen::VectorXd& x, const LbfgsSettings& s) {
        return minimize_lbfgs(f, x, s);
      },
      [](CountedConvex& f, Eigen::VectorXd& x, const LbfgsSettings& s) {
        return minimize_owlqn(f, x, Eigen::VectorXd::Constant(x.size(), 0.1), s);
      },
      [](CountedConvex& f, Eigen::VectorXd& x, const LbfgsSettings& s) {
        return minimize_newton_cg(f, x, s);
      },
      [](CountedConvex& f, Eigen::VectorXd& x, const LbfgsSettings& s) {
        return minimize_newton_cholesky(f, x, s);
      },
  };
  for (const Minimise minimise : solvers) {
    for (int max_iter : {0, 1, 3, 100}) {
      CountedConvex f(c);
      Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
      LbfgsSettings settings;
      settings.tol = 1e-9;
      settings.max_iter = max_iter;
      const SolverResult result = minimise(f, x, settings);
      EXPECT_EQ(result.n_evaluations, f.evaluations);
      EXPECT_GE(result.n_evaluations, result.n_iter + 1);  // the start, then each iteration's
    }
  }
  // What trainers report is what the solvers counted: the start plus at least one per iteration.
  const auto data = make_blobs(3, 200, 5, 1.0);
  for (Strategy strategy : kStrategies) {
    for (Solver solver : {Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
      const auto model = train(strategy, data.X, data.y, 3, tight(solver, 2, kTol));
      for (const auto& report : model.reports()) {
        EXPECT_GE(report.n_evaluations, report.n_iter + 1);
      }
    }
  }
}

TEST(NewtonSolvers, TrialsJudgedAgainstRounding) {
  // f = 1 with rounding 1e-8. A drop beyond rounding is progress even when the wanted drop is
  // within rounding and the gradient does not shrink: a float32 trust-region step that f
  // predicted well (1.1e-5 against 8.2e-6) was once refused for ever on its gradient alone.
  const auto unshrunk = [] { return 1.0; };
  const auto shrunk = [] { return 0.5; };
  EXPECT_TRUE(detail::accept_newton_trial(1.0, 1.0 - 1e-6, 1e-9, 1e-8, 1.0, unshrunk));
  // Within rounding, only a shrinking gradient tells progress from noise.
  EXPECT_FALSE(detail::accept_newton_trial(1.0, 1.0 - 1e-9, 1e-10, 1e-8, 1.0, unshrunk));
  EXPECT_TRUE(detail::accept_newton_trial(1.0, 1.0 + 1e-9, 1e-10, 1e-8, 1.0, shrunk));
  EXPECT_FALSE(detail::accept_newton_trial(1.0, 1.0 + 1e-7, 1e-10, 1e-8, 1.0, shrunk));
  // A wanted drop beyond rounding must be met.
  EXPECT_FALSE(detail::accept_newton_trial(1.0, 1.0 - 1e-6, 1e-5, 1e-8, 1.0, shrunk));
  EXPECT_TRUE(detail::accept_newton_trial(1.0, 1.0 - 2e-5, 1e-5, 1e-8, 1.0, unshrunk));
  EXPECT_FALSE(detail::accept_newton_trial(1.0, std::nan(""), 1e-10, 1e-8, 1.0, shrunk));
}

TEST(NewtonSolvers, RefuseAnL1Penalty) {
  for (Solver solver : {Solver::NewtonCg, Solver::NewtonCholesky}) {
    TrainOptions options;
    options.solver = solver;
    options.l1_ratio = 0.5;
    try {
      options.validate();
      ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(std::string(to_string(solver))), std::string::npos);
      EXPECT_NE(std::string(error.what()).find("l1_ratio"), std::string::npos);
    }
  }
  TrainOptions options;
  options.l1_ratio = 0.5;
  EXPECT_NO_THROW(options.validate());  // auto takes OWL-QN
}

TEST(NewtonSolvers, SolverNamesRoundTrip) {
  for (Solver solver : {Solver::Auto, Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
    EXPECT_EQ(parse_solver(to_string(solver)), solver);
  }
  EXPECT_THROW(parse_solver("newton"), std::invalid_argument);
}

TEST(NewtonSolvers, AutoTakesLbfgs) {
  using detail::resolve_solver;
  EXPECT_EQ(resolve_solver(Solver::Auto), Solver::Lbfgs);
  EXPECT_EQ(resolve_solver(Solver::NewtonCg), Solver::NewtonCg);
  EXPECT_EQ(resolve_solver(Solver::NewtonCholesky), Solver::NewtonCholesky);
}

// L-BFGS's automatic number of correction pairs: 100 while the pairs of all problems solved at
// once fit in X's values (or 2^20 values for smaller X), never fewer than 10.
TEST(Lbfgs, AutomaticMemoryFitsBesideX) {
  using detail::automatic_lbfgs_memory;
  using detail::history_values;
  EXPECT_EQ(automatic_lbfgs_memory(1010, history_values(1e7, 1)), 100);  // synthetic softmax
  EXPECT_EQ(automatic_lbfgs_memory(101, history_values(1e7, 45)), 100);  // its 45 pairs
  EXPECT_EQ(automatic_lbfgs_memory(650, history_values(1347 * 64, 1)), 100);  // small X: 2^20
  EXPECT_EQ(automatic_lbfgs_memory(100000, history_values(8e6, 1)), 40);
  EXPECT_EQ(automatic_lbfgs_memory(100000, history_values(8e6, 2)), 20);
  EXPECT_EQ(automatic_lbfgs_memory(26'000'000, history_values(9e6, 1)), 10);  // wide sparse
}

}  // namespace
