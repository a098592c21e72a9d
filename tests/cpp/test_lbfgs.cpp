#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include <multilogit/lbfgs.hpp>

namespace {

using multilogit::Objective;

// f(x) = sum_i (a_i (x_i - 1))^2 / 2, badly scaled on purpose.
class Quadratic final : public Objective {
 public:
  explicit Quadratic(Eigen::VectorXd scale) : scale_(std::move(scale)) {}
  Eigen::Index dimension() const override { return scale_.size(); }
  double evaluate(const Eigen::VectorXd& x, Eigen::VectorXd& g) override {
    const Eigen::VectorXd r = scale_.cwiseProduct(x - Eigen::VectorXd::Ones(x.size()));
    g = scale_.cwiseProduct(r);
    return 0.5 * r.squaredNorm();
  }

 private:
  Eigen::VectorXd scale_;
};

class Rosenbrock final : public Objective {
 public:
  Eigen::Index dimension() const override { return 2; }
  double evaluate(const Eigen::VectorXd& x, Eigen::VectorXd& g) override {
    const double a = 1 - x[0], b = x[1] - x[0] * x[0];
    g[0] = -2 * a - 400 * x[0] * b;
    g[1] = 200 * b;
    return a * a + 100 * b * b;
  }
};

TEST(Lbfgs, SolvesIllConditionedQuadratic) {
  Eigen::VectorXd scale(50);
  for (int i = 0; i < 50; ++i) scale[i] = std::pow(10.0, i / 50.0);  // condition number 100
  Quadratic f(scale);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(50);
  multilogit::LbfgsSettings settings;
  settings.tol = 1e-10;
  settings.max_iter = 1000;
  const auto result = multilogit::minimize_lbfgs(f, x, settings);
  EXPECT_TRUE(result.converged());
  EXPECT_LE(result.gradient_norm, 1e-10);
  EXPECT_LT((x - Eigen::VectorXd::Ones(50)).lpNorm<Eigen::Infinity>(), 1e-8);
}

TEST(Lbfgs, EveryIterationDecreasesRosenbrock) {
  Rosenbrock f;
  Eigen::VectorXd x(2);
  x << -1.2, 1.0;
  std::vector<double> values;
  multilogit::LbfgsSettings settings;
  settings.tol = 1e-8;
  settings.max_iter = 500;
  settings.on_iteration = [&](int, double value, double) { values.push_back(value); };
  const auto result = multilogit::minimize_lbfgs(f, x, settings);
  ASSERT_TRUE(result.converged());
  EXPECT_NEAR(x[0], 1.0, 1e-6);
  EXPECT_NEAR(x[1], 1.0, 1e-6);
  ASSERT_EQ(values.size(), static_cast<size_t>(result.n_iter));
  double previous = 24.2;  // f(-1.2, 1)
  for (double v : values) {
    EXPECT_LT(v, previous);
    previous = v;
  }
}

TEST(Lbfgs, StopsAtMaxIterations) {
  Rosenbrock f;
  Eigen::VectorXd x(2);
  x << -1.2, 1.0;
  multilogit::LbfgsSettings settings;
  settings.tol = 1e-12;
  settings.max_iter = 3;
  const auto result = multilogit::minimize_lbfgs(f, x, settings);
  EXPECT_EQ(result.status, multilogit::SolverStatus::MaxIterations);
  EXPECT_EQ(result.n_iter, 3);
}

TEST(Lbfgs, ConvergedAtStartTakesNoStep) {
  Quadratic f(Eigen::VectorXd::Ones(3));
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  const auto result = multilogit::minimize_lbfgs(f, x, {});
  EXPECT_TRUE(result.converged());
  EXPECT_EQ(result.n_iter, 0);
}

}  // namespace

namespace {

// f(x) = |x - a|^2 / 2 plus l1 |x|_1 is minimised by soft-thresholding a at l1.
class Shifted final : public multilogit::Objective {
 public:
  explicit Shifted(Eigen::VectorXd a) : a_(std::move(a)) {}
  Eigen::Index dimension() const override { return a_.size(); }
  double evaluate(const Eigen::VectorXd& x, Eigen::VectorXd& g) override {
    g = x - a_;
    return 0.5 * g.squaredNorm();
  }

 private:
  Eigen::VectorXd a_;
};

TEST(Owlqn, SoftThresholdsWithExactZeros) {
  Eigen::VectorXd a(6);
  a << 3.0, -2.0, 0.5, -0.2, 1.0, 0.0;
  Shifted f(a);
  const Eigen::VectorXd l1 = Eigen::VectorXd::Constant(6, 0.8);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(6);
  multilogit::LbfgsSettings settings;
  settings.tol = 1e-12;
  const auto result = multilogit::minimize_owlqn(f, x, l1, settings);
  EXPECT_TRUE(result.converged());
  Eigen::VectorXd expected(6);
  expected << 2.2, -1.2, 0.0, 0.0, 0.2, 0.0;
  EXPECT_LT((x - expected).lpNorm<Eigen::Infinity>(), 1e-10);
  EXPECT_EQ(x[2], 0.0);
  EXPECT_EQ(x[3], 0.0);
  EXPECT_NEAR(result.objective, 0.5 * (a - x).squaredNorm() + 0.8 * x.lpNorm<1>(), 1e-12);
}

}  // namespace
