// Every build of the kernels this CPU can run, against direct evaluations and each other.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/kernels.hpp"
#include "multilogit/instruction_set.hpp"
#include "multilogit/types.hpp"

namespace {

using namespace multilogit;
using detail::InstructionSet;
using detail::KernelTable;

template <typename Scalar>
std::vector<const KernelTable<Scalar>*> runnable_kernels() {
  std::vector<const KernelTable<Scalar>*> tables;
  for (InstructionSet set : {InstructionSet::Generic, InstructionSet::Avx2, InstructionSet::Avx512}) {
    if (const auto* table = detail::kernels_for<Scalar>(set)) tables.push_back(table);
  }
  return tables;
}

TEST(Kernels, ActiveSetIsTheBestRunnableOne) {
  const auto tables = runnable_kernels<double>();
  ASSERT_FALSE(tables.empty());
  EXPECT_STREQ(tables.front()->instruction_set, "generic");
  // The environment may lower the choice (MULTILOGIT_ISA), never raise it above the CPU's.
  bool found = false;
  for (const auto* table : tables) found |= std::string(table->instruction_set) == active_instruction_set();
  EXPECT_TRUE(found) << active_instruction_set();
}

template <typename Scalar>
class KernelsOf : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KernelsOf, Scalars);

TYPED_TEST(KernelsOf, MatchDirectEvaluation) {
  using Scalar = TypeParam;
  const double tolerance = 50 * std::numeric_limits<Scalar>::epsilon();
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 2.0);
  const Index n = 37, d = 11, k = 5;
  const Eigen::MatrixXd X = Eigen::MatrixXd::NullaryExpr(n, d, [&] { return normal(rng); });
  const Eigen::MatrixXd W = Eigen::MatrixXd::NullaryExpr(d, k, [&] { return normal(rng); });
  const Eigen::RowVectorXd b = Eigen::RowVectorXd::NullaryExpr(k, [&] { return normal(rng); });
  std::vector<int> labels(n);
  for (Index i = 0; i < n; ++i) labels[i] = static_cast<int>(i % k);
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(n, 0.0, 2.0);

  // Direct: scores, softmax loss and residuals, gradient X^T R, binary loss of unit 0.
  const Eigen::MatrixXd Z = (X * W).rowwise() + b;
  double softmax_loss = 0.0, binary_loss = 0.0;
  Eigen::MatrixXd R(n, k);
  Eigen::VectorXd r(n);
  for (Index i = 0; i < n; ++i) {
    const double log_sum = std::log(Z.row(i).array().exp().sum());
    softmax_loss += weights[i] * (log_sum - Z(i, labels[i]));
    R.row(i) = weights[i] * (Z.row(i).array() - log_sum).exp();
    R(i, labels[i]) -= weights[i];
    const double t = labels[i] == 2 ? 1.0 : -1.0;
    binary_loss += weights[i] * std::log1p(std::exp(-t * Z(i, 0)));
    r[i] = -t * weights[i] / (1.0 + std::exp(t * Z(i, 0)));
  }
  const Eigen::MatrixXd G = X.transpose() * R;

  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    for (bool row_major : {true, false}) {
      const RowMatrix<Scalar> X_rows = X.cast<Scalar>();
      const Eigen::Matrix<Scalar, -1, -1> X_columns = X.cast<Scalar>();
      const detail::DenseBlock<Scalar> block =
          row_major ? detail::dense_block(X_rows) : detail::dense_block(X_columns);
      const RowMatrix<Scalar> W_s = W.transpose().cast<Scalar>();  // units x features
      const Vector<Scalar> b_s = b.transpose().cast<Scalar>();
      RowMatrix<Scalar> out(n, k);
      kernels->linear_scores(block, W_s.data(), b_s.data(), k, out.data());
      EXPECT_LT((out.template cast<double>() - Z).cwiseAbs().maxCoeff(), tolerance * Z.cwiseAbs().maxCoeff());

      const double loss = kernels->softmax_loss(out.data(), n, k, labels.data(), weights.data(), nullptr);
      EXPECT_NEAR(loss, softmax_loss, 4 * tolerance * softmax_loss);
      EXPECT_LT((out.template cast<double>() - R).cwiseAbs().maxCoeff(), tolerance);

      RowMatrix<Scalar> scratch(d, k);
      Eigen::MatrixXd gradient = Eigen::MatrixXd::Ones(d, k);  // adds to what is there
      kernels->add_transposed_product(block, out.data(), k, scratch.data(), gradient.data());
      EXPECT_LT((gradient.array() - 1.0 - G.array()).abs().maxCoeff(), 4 * tolerance * G.cwiseAbs().maxCoeff());

      Vector<Scalar> z = Z.col(0).cast<Scalar>();
      const double binary = kernels->binary_loss(z.data(), n, labels.data(), 2, weights.data(), nullptr);
      EXPECT_NEAR(binary, binary_loss, 4 * tolerance * binary_loss);
      EXPECT_LT((z.template cast<double>() - r).cwiseAbs().maxCoeff(), tolerance);
    }
  }
}

TYPED_TEST(KernelsOf, StableForHugeScores) {
  using Scalar = TypeParam;
  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    const int labels[3] = {0, 1, 1};
    Scalar z[3] = {Scalar(1e4), Scalar(1e4), Scalar(-1e4)};
    // Class 1 positive: losses log(1 + e^1e4) = 1e4, log(1 + e^-1e4) = 0, log(1 + e^1e4) = 1e4.
    EXPECT_NEAR(kernels->binary_loss(z, 3, labels, 1, nullptr, nullptr), 2e4, 1e-12 * 2e4);
    EXPECT_EQ(z[0], Scalar(1));
    EXPECT_LE(std::abs(z[1]), std::numeric_limits<Scalar>::min());  // e^-1e4, or a subnormal
    EXPECT_EQ(z[2], Scalar(-1));

    Scalar scores[3] = {Scalar(1e4), Scalar(-1e4), Scalar(0)};
    const int label = 1;
    EXPECT_NEAR(kernels->softmax_loss(scores, 1, 3, &label, nullptr, nullptr), 2e4, 1e-12 * 2e4);
    for (Scalar s : scores) EXPECT_TRUE(std::isfinite(s));

    Scalar p[4] = {Scalar(800), Scalar(-800), Scalar(0), Scalar(1)};
    kernels->sigmoid(p, 4);
    EXPECT_EQ(p[0], Scalar(1));
    EXPECT_EQ(p[1], Scalar(0));
    EXPECT_EQ(p[2], Scalar(0.5));
    EXPECT_NEAR(p[3], 1 / (1 + std::exp(-1.0)), 2 * std::numeric_limits<Scalar>::epsilon());
  }
}

}  // namespace
