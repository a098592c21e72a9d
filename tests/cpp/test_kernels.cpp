// Every build of the kernels this CPU can run, against direct evaluations and each other.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Core>
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

// Every kernel against direct evaluation in double on an n x d block and k units, with X in
// either storage order and as a block of a wider matrix (outer stride above its width). Unless
// `lightest` is -1, that unit's weights are scaled down to be the least, so that the fused
// softmax kernels take it as their reference unit.
template <typename Scalar>
void expect_direct_results(Index n, Index d, Index k, Index lightest = -1) {
  SCOPED_TRACE(::testing::Message() << "n = " << n << ", d = " << d << ", k = " << k
                                    << ", lightest unit " << lightest);
  const double tolerance = 50 * std::numeric_limits<Scalar>::epsilon();
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 2.0);
  const Eigen::MatrixXd X = Eigen::MatrixXd::NullaryExpr(n, d, [&] { return normal(rng); });
  Eigen::MatrixXd W = Eigen::MatrixXd::NullaryExpr(d, k, [&] { return normal(rng); });
  Eigen::RowVectorXd b = Eigen::RowVectorXd::NullaryExpr(k, [&] { return normal(rng); });
  if (lightest >= 0) {
    W.col(lightest) *= 1e-3;
    b[lightest] *= 1e-3;
  }
  std::vector<int> labels(n);
  for (Index i = 0; i < n; ++i) labels[i] = static_cast<int>(i % k);
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(n, 0.0, 2.0);

  // Direct: scores, softmax loss and residuals, gradient X^T R, binary loss of unit 0.
  const Eigen::MatrixXd Z = (X * W).rowwise() + b;
  double softmax_loss = 0.0, binary_loss = 0.0;
  Eigen::MatrixXd P(n, k), R(n, k);
  Eigen::VectorXd r(n);
  for (Index i = 0; i < n; ++i) {
    const double log_sum = std::log(Z.row(i).array().exp().sum());
    softmax_loss += weights[i] * (log_sum - Z(i, labels[i]));
    P.row(i) = (Z.row(i).array() - log_sum).exp();
    R.row(i) = weights[i] * P.row(i);
    R(i, labels[i]) -= weights[i];
    const double t = labels[i] == 2 ? 1.0 : -1.0;
    binary_loss += weights[i] * std::log1p(std::exp(-t * Z(i, 0)));
    r[i] = -t * weights[i] / (1.0 + std::exp(t * Z(i, 0)));
  }
  const Eigen::MatrixXd G = X.transpose() * R;
  const double score_tolerance = tolerance * (1.0 + Z.cwiseAbs().maxCoeff());

  // What a fused kernel added to `sums` (which held ones) against X^T rows and the column sums
  // of rows, for rows it computed to within row_tolerance: their error carried through the
  // product, plus the product's own rounding.
  const auto expect_product_sums = [&](const detail::ProductSums<Scalar>& sums,
                                       const Eigen::MatrixXd& rows, double row_tolerance) {
    const Eigen::Map<const Eigen::MatrixXd> gradient(sums.G, d, k);
    const Eigen::Map<const Eigen::VectorXd> column_sums(sums.g, k);
    const double product_bound =
        row_tolerance * X.cwiseAbs().colwise().sum().maxCoeff() +
        4 * tolerance * (1.0 + (X.cwiseAbs().transpose() * rows.cwiseAbs()).maxCoeff());
    EXPECT_LT((gradient.array() - 1.0 - (X.transpose() * rows).array()).abs().maxCoeff(),
              product_bound);
    const double sum_bound =
        row_tolerance * n + 4 * tolerance * (1.0 + rows.cwiseAbs().colwise().sum().maxCoeff());
    EXPECT_LT((column_sums.array() - 1.0 - rows.colwise().sum().transpose().array()).abs().maxCoeff(),
              sum_bound);
  };

  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    // A wider matrix whose first d columns (rows, column-major) are X.
    RowMatrix<Scalar> X_rows_wide = RowMatrix<Scalar>::Constant(n, d + 3, Scalar(7));
    X_rows_wide.leftCols(d) = X.cast<Scalar>();
    Eigen::Matrix<Scalar, -1, -1> X_columns_wide =
        Eigen::Matrix<Scalar, -1, -1>::Constant(n + 3, d, Scalar(7));
    X_columns_wide.topRows(n) = X.cast<Scalar>();
    // X's rows picked by index from a taller matrix, in reverse order, one row in three.
    RowMatrix<Scalar> X_scattered = RowMatrix<Scalar>::Constant(3 * n, d, Scalar(7));
    std::vector<detail::KernelIndex> row_index(static_cast<size_t>(n));
    for (Index i = 0; i < n; ++i) {
      row_index[static_cast<size_t>(i)] = 3 * (n - 1 - i) + 1;
      X_scattered.row(row_index[static_cast<size_t>(i)]) = X.row(i).cast<Scalar>();
    }
    detail::DenseBlock<Scalar> indexed = detail::dense_block(X_scattered);
    indexed.rows = n;
    indexed.row_index = row_index.data();
    const RowMatrix<Scalar> X_rows = X.cast<Scalar>();
    const Eigen::Matrix<Scalar, -1, -1> X_columns = X.cast<Scalar>();
    for (const detail::DenseBlock<Scalar>& block :
         {detail::dense_block(X_rows), detail::dense_block(X_columns),
          detail::dense_block(X_rows_wide.leftCols(d)), detail::dense_block(X_columns_wide.topRows(n)),
          indexed}) {
      SCOPED_TRACE(::testing::Message() << (block.row_major ? "row-major" : "column-major")
                                        << ", outer stride " << block.outer_stride
                                        << (block.row_index ? ", rows by index" : ""));
      const RowMatrix<Scalar> W_s = W.transpose().cast<Scalar>();  // units x features
      const Vector<Scalar> b_s = b.transpose().cast<Scalar>();
      RowMatrix<Scalar> out(n, k);
      kernels->linear_scores(block, W_s.data(), b_s.data(), k, out.data());
      EXPECT_LT((out.template cast<double>() - Z).cwiseAbs().maxCoeff(), tolerance * Z.cwiseAbs().maxCoeff());

      const double loss = kernels->softmax_loss(out.data(), n, k, labels.data(), weights.data(), nullptr);
      EXPECT_NEAR(loss, softmax_loss, 4 * tolerance * (1.0 + softmax_loss));  // 0 for one unit
      // The scores' rounding, up to tolerance |Z|, moves the residuals by as much.
      EXPECT_LT((out.template cast<double>() - R).cwiseAbs().maxCoeff(), score_tolerance);

      // The same from X directly, probabilities too, with the residuals' product X^T R.
      RowMatrix<Scalar> room(n, k), probabilities(n, k), product_scratch(d, k);
      Eigen::MatrixXd product = Eigen::MatrixXd::Ones(d, k);  // adds to what is there
      Eigen::VectorXd product_column_sums = Eigen::VectorXd::Ones(k);
      const detail::ProductSums<Scalar> sums{product.data(), product_column_sums.data(),
                                             product_scratch.data()};
      const double fused_loss = kernels->softmax_scores_loss(block, W_s.data(), b_s.data(), k, labels.data(),
                                                             weights.data(), room.data(), probabilities.data(), sums);
      EXPECT_NEAR(fused_loss, softmax_loss, 4 * tolerance * (1.0 + softmax_loss));
      expect_product_sums(sums, R, score_tolerance);
      EXPECT_LT((probabilities.template cast<double>() - P).cwiseAbs().maxCoeff(), score_tolerance);
      probabilities.setZero();
      kernels->softmax_scores(block, W_s.data(), b_s.data(), k, probabilities.data());
      EXPECT_LT((probabilities.template cast<double>() - P).cwiseAbs().maxCoeff(), score_tolerance);

      // The softmax curvature applied to the scores Z, from Z and from X directly.
      Eigen::MatrixXd expected_curvature(n, k);
      for (Index i = 0; i < n; ++i) {
        const double mean = P.row(i).dot(Z.row(i));
        expected_curvature.row(i) = weights[i] * P.row(i).array() * (Z.row(i).array() - mean);
      }
      const double curvature_tolerance = 2 * score_tolerance * (1.0 + Z.cwiseAbs().maxCoeff());
      const RowMatrix<Scalar> P_s = P.cast<Scalar>();
      RowMatrix<Scalar> curvature(n, k);
      kernels->linear_scores(block, W_s.data(), b_s.data(), k, curvature.data());
      kernels->softmax_curvature(P_s.data(), weights.data(), curvature.data(), n, k);
      EXPECT_LT((curvature.template cast<double>() - expected_curvature).cwiseAbs().maxCoeff(),
                curvature_tolerance);
      product.setOnes();
      product_column_sums.setOnes();
      kernels->softmax_curvature_scores(block, W_s.data(), b_s.data(), k, P_s.data(), weights.data(),
                                        room.data(), sums);
      expect_product_sums(sums, expected_curvature, curvature_tolerance);

      RowMatrix<Scalar> scratch(d, k);
      Eigen::MatrixXd gradient = Eigen::MatrixXd::Ones(d, k);  // adds to what is there
      Eigen::VectorXd intercept_gradient = Eigen::VectorXd::Ones(k);
      kernels->add_transposed_product(block, out.data(), k, scratch.data(), gradient.data(),
                                      intercept_gradient.data());
      EXPECT_LT((gradient.array() - 1.0 - G.array()).abs().maxCoeff(), 4 * tolerance * (1.0 + G.cwiseAbs().maxCoeff()));
      const Eigen::VectorXd column_sums = R.colwise().sum().transpose();
      EXPECT_LT((intercept_gradient.array() - 1.0 - column_sums.array()).abs().maxCoeff(),
                4 * tolerance * (1.0 + R.cwiseAbs().colwise().sum().maxCoeff()));

      // [X 1]^T diag(D_j) [X 1] for two weight vectors, one of each sign.
      Eigen::Matrix<Scalar, -1, -1> D(n, 2);
      D.col(0) = weights.cast<Scalar>();
      D.col(1) = -weights.reverse().cast<Scalar>();
      Eigen::MatrixXd grams = Eigen::MatrixXd::Ones(d + 1, 2 * (d + 1));  // adds to what is there
      Vector<Scalar> gram_scratch(detail::gram_scratch_size(block.rows, block.cols));
      kernels->add_weighted_grams(block, D.data(), 2, true, gram_scratch.data(), grams.data());
      grams.array() -= 1.0;
      Eigen::MatrixXd A(n, d + 1);
      A << X, Eigen::VectorXd::Ones(n);
      for (Index j = 0; j < 2; ++j) {
        const Eigen::MatrixXd expected = A.transpose() * D.col(j).template cast<double>().asDiagonal() * A;
        EXPECT_LT((grams.middleCols(j * (d + 1), d + 1) - expected).cwiseAbs().maxCoeff(),
                  4 * tolerance * (1.0 + expected.cwiseAbs().maxCoeff()));
      }

      // The column moments X^T w and (X o X)^T w, weighted and not, added to what is there.
      for (const double* row_weights : {weights.data(), static_cast<const double*>(nullptr)}) {
        SCOPED_TRACE(row_weights ? "weighted moments" : "unweighted moments");
        const Eigen::VectorXd w = row_weights ? weights : Eigen::VectorXd::Ones(n);
        Eigen::VectorXd sums = Eigen::VectorXd::Ones(d), squares = Eigen::VectorXd::Ones(d);
        kernels->add_column_moments(block, row_weights, sums.data(), squares.data());
        const Eigen::VectorXd expected_squares = X.array().square().matrix().transpose() * w;
        const double sum_bound = (X.cwiseAbs().transpose() * w).maxCoeff();
        EXPECT_LT((sums.array() - 1.0 - (X.transpose() * w).array()).abs().maxCoeff(),
                  4 * tolerance * (1.0 + sum_bound));
        EXPECT_LT((squares.array() - 1.0 - expected_squares.array()).abs().maxCoeff(),
                  4 * tolerance * (1.0 + expected_squares.maxCoeff()));
      }

      // Binary units side by side, weighted and not: unit u takes the loss against class u % 3,
      // keeping its curvature when u is even, except every third unit, which multiplies its
      // scores by a kept curvature. The curvature starts 2 rows into its columns.
      for (const double* unit_weights : {weights.data(), static_cast<const double*>(nullptr)}) {
        SCOPED_TRACE(unit_weights ? "weighted" : "unweighted");
        const Index first = 2;
        Eigen::Matrix<Scalar, -1, -1> kept = Eigen::Matrix<Scalar, -1, -1>::Zero(n + first, k);
        std::vector<int> positive(static_cast<size_t>(k));
        std::vector<Scalar*> curvature_of(static_cast<size_t>(k));
        Eigen::MatrixXd expected_R(n, k), expected_kept(n, k);
        Eigen::VectorXd expected_losses = Eigen::VectorXd::Zero(k);
        for (Index u = 0; u < k; ++u) {
          const bool product = u % 3 == 2;
          positive[static_cast<size_t>(u)] = product ? -1 : static_cast<int>(u % 3);
          curvature_of[static_cast<size_t>(u)] = product || u % 2 == 0 ? kept.col(u).data() : nullptr;
          for (Index i = 0; i < n; ++i) {
            const double weight = unit_weights ? weights[i] : 1.0;
            if (product) {
              kept(first + i, u) = static_cast<Scalar>(0.25 + 0.1 * (i % 5));
              expected_R(i, u) = Z(i, u) * static_cast<double>(kept(first + i, u));
              expected_kept(i, u) = static_cast<double>(kept(first + i, u));
              continue;
            }
            const double t = labels[i] == u % 3 ? 1.0 : -1.0;
            expected_losses[u] += weight * std::log1p(std::exp(-t * Z(i, u)));
            expected_R(i, u) = -t * weight / (1.0 + std::exp(t * Z(i, u)));
            expected_kept(i, u) = curvature_of[static_cast<size_t>(u)]
                                      ? weight / (2.0 + 2.0 * std::cosh(Z(i, u))) : 0.0;
          }
        }
        const Eigen::Matrix<Scalar, -1, -1> kept_before = kept;
        const detail::BinaryUnits<Scalar> units{positive.data(), curvature_of.data(), first};
        const auto expect_units = [&](const Eigen::VectorXd& losses, const RowMatrix<Scalar>* R) {
          for (Index u = 0; u < k; ++u) {
            EXPECT_NEAR(losses[u], expected_losses[u], 4 * tolerance * (1.0 + expected_losses[u]));
          }
          if (R) {
            EXPECT_LT((R->template cast<double>() - expected_R).cwiseAbs().maxCoeff(),
                      score_tolerance);
          }
          EXPECT_LT(
              (kept.bottomRows(n).template cast<double>() - expected_kept).cwiseAbs().maxCoeff(),
              score_tolerance);
          EXPECT_TRUE((kept.topRows(first).array() == 0).all());
          kept = kept_before;
        };
        RowMatrix<Scalar> unit_scores = Z.cast<Scalar>();
        Eigen::VectorXd losses = Eigen::VectorXd::Zero(k);
        kernels->binary_units_loss(unit_scores.data(), n, k, units, labels.data(), unit_weights,
                                   losses.data());
        expect_units(losses, &unit_scores);
        product.setOnes();
        product_column_sums.setOnes();
        losses.setZero();
        kernels->binary_units_scores_loss(block, W_s.data(), b_s.data(), k, units, labels.data(),
                                          unit_weights, losses.data(), room.data(), sums);
        expect_units(losses, nullptr);
        expect_product_sums(sums, expected_R, score_tolerance);
      }

      Vector<Scalar> z = Z.col(0).cast<Scalar>();
      const double binary = kernels->binary_loss(z.data(), n, labels.data(), 2, weights.data(), nullptr);
      EXPECT_NEAR(binary, binary_loss, 4 * tolerance * binary_loss);
      EXPECT_LT((z.template cast<double>() - r).cwiseAbs().maxCoeff(), score_tolerance);
    }
  }
}

TYPED_TEST(KernelsOf, MatchDirectEvaluation) {
  // Unit and feature counts around every packet width (and its halves), so that each tile
  // shape, remainder and the per-unit dot products all run, and the unit counts around the
  // groups the tile products split them into (up to 5 or 16 units each). With two feature
  // packets per step (16 registers), 24 features leave one whole packet after the steps.
  for (Index k : {1, 3, 5, 6, 10, 11, 12, 16, 17, 26, 37}) {
    for (Index d : {1, 7, 11, 16, 24, 100}) expect_direct_results<TypeParam>(37, d, k);
  }
  expect_direct_results<TypeParam>(1, 11, 10);
  // The softmax tiles' reference unit first, in the middle and last (whose scores they do not
  // move between slots).
  for (Index k : {3, 10, 17}) {
    for (Index lightest : {Index(0), k / 2, k - 1}) {
      expect_direct_results<TypeParam>(37, 24, k, lightest);
    }
  }
}

TYPED_TEST(KernelsOf, UnweightedBinaryLossKeepsSmallLosses) {
  // Without weights the log(1 + e) terms are added up through products: over more rows than
  // one lane takes, with margins from -30 (a loss of 30) to 60 (a loss of 1e-26), and with every
  // loss tiny, the sum keeps the precision of the values.
  using Scalar = TypeParam;
  const double tolerance = 50 * std::numeric_limits<Scalar>::epsilon();
  const Index n = 10000;
  std::vector<int> labels(n);
  for (Index i = 0; i < n; ++i) labels[i] = static_cast<int>(i % 3);
  for (const double low : {-30.0, 40.0}) {
    SCOPED_TRACE(::testing::Message() << "margins from " << low);
    Vector<Scalar> scores(n);
    double expected = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double t = labels[i] == 1 ? 1.0 : -1.0;
      scores[i] = static_cast<Scalar>(t * (low + (60.0 - low) * static_cast<double>(i) / n));
      const double margin = t * static_cast<double>(scores[i]);
      expected += std::max(-margin, 0.0) + std::log1p(std::exp(-std::abs(margin)));
    }
    for (const auto* kernels : runnable_kernels<Scalar>()) {
      SCOPED_TRACE(kernels->instruction_set);
      Vector<Scalar> z = scores;
      EXPECT_NEAR(kernels->binary_loss(z.data(), n, labels.data(), 1, nullptr, nullptr), expected,
                  tolerance * expected);
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

TYPED_TEST(KernelsOf, SigmoidToTheLastBits) {
  // Every build's exponentials, through sigmoid, against std::exp in double over a range where
  // neither end saturates; NaN stays NaN.
  using Scalar = TypeParam;
  const double tolerance = 4 * std::numeric_limits<Scalar>::epsilon();
  const Index n = 4001;
  Vector<Scalar> z(n);
  for (Index i = 0; i < n; ++i) z[i] = static_cast<Scalar>(-40.0 + 80.0 * i / (n - 1));
  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    Vector<Scalar> p = z;
    kernels->sigmoid(p.data(), n);
    for (Index i = 0; i < n; ++i) {
      const double expected = 1.0 / (1.0 + std::exp(-static_cast<double>(z[i])));
      ASSERT_NEAR(p[i], expected, tolerance * expected) << "z = " << z[i];
    }
    Scalar nan = std::numeric_limits<Scalar>::quiet_NaN();
    kernels->sigmoid(&nan, 1);
    EXPECT_TRUE(std::isnan(nan));
  }
}

TYPED_TEST(KernelsOf, ExponentialsOverTheWholeRange) {
  // Every build's exponentials, through the softmax of rows of 17 units: 0, x in one unit (each
  // unit in turn, so that every lane of the packets takes it) and -1e30 in the others, whose
  // exponentials are 0. The probability of x's unit is e^x / (1 + e^x), checked against std::exp
  // in double: to the last bits down to where e^x nears the smallest normal number (e^-708, float
  // e^-86.5), and 0 or a normal number below, never a subnormal one. Row after row (softmax) and
  // in score tiles (softmax_scores of X = 1, W = the row), which 17 units take in every build.
  using Scalar = TypeParam;
  const double tolerance = 4 * std::numeric_limits<Scalar>::epsilon();
  const double lowest = std::is_same_v<Scalar, float> ? -86.5 : -708.0;
  const Index k = 17;
  std::vector<Scalar> xs;
  for (Index i = 0; i <= 3000; ++i) xs.push_back(static_cast<Scalar>(1.1 * lowest * i / 3000.0));
  for (double x : {-1e4, -1e30}) xs.push_back(static_cast<Scalar>(x));
  const Index n = static_cast<Index>(xs.size());
  const auto unit_of = [&](Index i) { return 1 + i % (k - 1); };
  RowMatrix<Scalar> rows = RowMatrix<Scalar>::Constant(n, k, Scalar(-1e30));
  for (Index i = 0; i < n; ++i) {
    rows(i, 0) = Scalar(0);
    rows(i, unit_of(i)) = xs[i];
  }
  const Scalar one(1);
  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    RowMatrix<Scalar> row_by_row = rows;
    kernels->softmax(row_by_row.data(), n, k);
    for (Index i = 0; i < n; ++i) {
      const Scalar x = xs[i];
      RowMatrix<Scalar> tiled(1, k);
      kernels->softmax_scores(detail::DenseBlock<Scalar>{&one, 1, 1, 1, true}, rows.row(i).data(),
                              nullptr, k, tiled.data());
      const double e = std::exp(static_cast<double>(x)), expected = e / (1.0 + e);
      for (const auto& p : {row_by_row.row(i), tiled.row(0)}) {
        for (Index u = 1; u < k; ++u) {
          if (u != unit_of(i)) {
            ASSERT_EQ(p[u], Scalar(0));
          } else if (x >= lowest) {
            ASSERT_NEAR(p[u], expected, tolerance * expected) << "x = " << x << ", unit " << u;
          } else {
            ASSERT_TRUE(p[u] == 0 || (p[u] >= std::numeric_limits<Scalar>::min() &&
                                      p[u] <= 2 * expected))
                << "x = " << x << ", p = " << p[u];
          }
        }
      }
    }
    // -inf gives 0 and NaN stays NaN.
    Scalar special[4] = {Scalar(0), -std::numeric_limits<Scalar>::infinity(), Scalar(0),
                         std::numeric_limits<Scalar>::quiet_NaN()};
    kernels->softmax(special, 2, 2);
    EXPECT_EQ(special[0], one);
    EXPECT_EQ(special[1], Scalar(0));
    EXPECT_TRUE(std::isnan(special[3]));
  }
}

TEST(Kernels, TwoLoopRecursionMatchesTheDirectOne) {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal;
  for (Index n : {1, 7, 33, 257}) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    const int count = 6;
    std::vector<Eigen::VectorXd> s(count), y(count);
    std::vector<const double*> s_data(count), y_data(count);
    std::vector<double> rho(count);
    for (int i = 0; i < count; ++i) {
      s[i] = Eigen::VectorXd::NullaryExpr(n, [&] { return normal(rng); });
      // y = A s for a positive definite diagonal A: every pair has s . y > 0.
      y[i] = s[i].cwiseProduct(Eigen::VectorXd::LinSpaced(n, 0.5, 3.0));
      rho[i] = 1.0 / s[i].dot(y[i]);
      s_data[i] = s[i].data();
      y_data[i] = y[i].data();
    }
    const Eigen::VectorXd g = Eigen::VectorXd::NullaryExpr(n, [&] { return normal(rng); });
    const double gamma = 0.7;
    Eigen::VectorXd expected = g;
    std::vector<double> alpha(count);
    for (int i = count; i-- > 0;) {
      alpha[i] = rho[i] * s[i].dot(expected);
      expected -= alpha[i] * y[i];
    }
    expected *= gamma;
    for (int i = 0; i < count; ++i) {
      expected += (alpha[i] - rho[i] * y[i].dot(expected)) * s[i];
    }
    for (const auto* kernels : runnable_kernels<double>()) {
      SCOPED_TRACE(kernels->instruction_set);
      Eigen::VectorXd q = g;
      std::vector<double> room(count);
      kernels->two_loop_first(s_data.data(), y_data.data(), rho.data(), count, n, room.data(),
                              q.data());
      q *= gamma;  // H0 = gamma I
      kernels->two_loop_second(s_data.data(), y_data.data(), rho.data(), room.data(), count, n,
                               q.data());
      EXPECT_LT((q - expected).cwiseAbs().maxCoeff(), 1e-12 * (1.0 + expected.cwiseAbs().maxCoeff()));
    }
  }
}

TYPED_TEST(KernelsOf, AllFiniteFindsEveryNonFiniteValue) {
  using Scalar = TypeParam;
  using Limits = std::numeric_limits<Scalar>;
  const Index n = 23, d = 19;  // runs longer and shorter than any packet, with remainders
  for (const auto* kernels : runnable_kernels<Scalar>()) {
    SCOPED_TRACE(kernels->instruction_set);
    for (bool row_major : {true, false}) {
      // The block is the top-left n x d of a wider buffer, whose values past the block are NaN:
      // they must not be read.
      const Index runs = row_major ? n : d, length = row_major ? d : n, stride = length + 3;
      std::vector<Scalar> buffer(static_cast<size_t>(runs * stride), Limits::quiet_NaN());
      for (Index r = 0; r < runs; ++r) {
        for (Index j = 0; j < length; ++j) buffer[r * stride + j] = Scalar(r - j);
      }
      buffer[0] = Limits::max();
      buffer[1] = -Limits::max();
      buffer[2] = Limits::denorm_min();
      const detail::DenseBlock<Scalar> block{buffer.data(), n, d, stride, row_major};
      EXPECT_TRUE(kernels->all_finite(block));
      for (Scalar bad : {Limits::quiet_NaN(), -Limits::quiet_NaN(), Limits::infinity(),
                         -Limits::infinity()}) {
        for (Index at : {Index(0), Index(7), (runs - 1) * stride + length - 1}) {
          const Scalar kept = buffer[at];
          buffer[at] = bad;
          EXPECT_FALSE(kernels->all_finite(block)) << "value " << bad << " at " << at;
          buffer[at] = kept;
        }
      }
    }
  }
}

}  // namespace
