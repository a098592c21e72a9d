#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

TEST(Model, ProbabilitiesAreDistributionsAgreeingWithPredictions) {
  const auto data = make_blobs(5, 60, 4, 2.0);
  for (Strategy strategy : {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne}) {
    const auto model = train(strategy, data.X, data.y, 5);
    const RowMatrix<double> P = model.predict_proba(data.X);
    ASSERT_EQ(P.cols(), 5);
    EXPECT_TRUE((P.array() >= 0).all());
    EXPECT_LT((P.rowwise().sum().array() - 1).abs().maxCoeff(), 1e-12);
    const Eigen::VectorXi predicted = model.predict(data.X);
    const RowMatrix<double> D = model.decision_function(data.X);
    for (Index i = 0; i < D.rows(); ++i) {
      Index best;
      D.row(i).maxCoeff(&best);
      EXPECT_EQ(predicted[i], best);
    }
  }
}

TEST(Model, SoftmaxAndOneVsAllProbabilitiesFollowTheirDefinitions) {
  RowMatrix<double> coef(3, 2);
  coef << 1, 0, 0, 1, -1, -1;
  Vector<double> intercept(3);
  intercept << 0.5, 0, -0.5;
  RowMatrix<double> X(1, 2);
  X << 0.3, -0.7;
  const Eigen::RowVector3d z = (X * coef.transpose()).row(0) + intercept.transpose();

  const Model<double> softmax(Strategy::Softmax, 3, coef, intercept);
  const Eigen::RowVector3d expected = z.array().exp() / z.array().exp().sum();
  EXPECT_LT((softmax.predict_proba(X).row(0) - expected).norm(), 1e-15);

  const Model<double> ova(Strategy::OneVsAll, 3, coef, intercept);
  Eigen::RowVector3d s = z.unaryExpr([](double v) { return sigmoid(v); });
  s /= s.sum();
  EXPECT_LT((ova.predict_proba(X).row(0) - s).norm(), 1e-15);
}

// Softmax scores near the top of the range: shifting every unit's weights by a reference unit's
// would overflow (1e308 - (-1e308)) where the scores themselves stay finite.
TEST(Model, SoftmaxProbabilitiesOfWeightsNearTheRange) {
  RowMatrix<double> coef(4, 3);
  coef << -1e308, -7e41, -7e41,
          -7e41, -7e41, 1e308,
          1e308, -7e41, -7e41,
          -7e41, -7e41, 1e308;
  Vector<double> intercept(4);
  intercept << 0.59, -0.16, 0.12, -0.55;
  const Model<double> model(Strategy::Softmax, 4, coef, intercept);
  const RowMatrix<double> X = RowMatrix<double>::Constant(2, 3, 0.5);
  const RowMatrix<double> proba = model.predict_proba(X, 1);
  ASSERT_TRUE(proba.allFinite());
  for (Index i = 0; i < 2; ++i) {
    EXPECT_NEAR(proba.row(i).sum(), 1.0, 1e-12);
    EXPECT_EQ(proba(i, 0), 0.0);  // 1e308 below the others
  }
}

TEST(Model, OneVsOneVotesAndCoupling) {
  // Pairs (0,1), (0,2), (1,2) with hand-picked scores for one row (X = identity picks them).
  RowMatrix<double> coef = RowMatrix<double>::Identity(3, 3);
  const Vector<double> intercept = Vector<double>::Zero(3);
  const Model<double> model(Strategy::OneVsOne, 3, coef, intercept);
  RowMatrix<double> X(1, 3);
  X << 2.0, -1.0, 0.5;  // 1 beats 0, 0 beats 2, 2 beats 1: one vote each
  const RowMatrix<double> D = model.decision_function(X);
  const double confidence[3] = {-2.0 + 1.0, 2.0 - 0.5, -1.0 + 0.5};
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(D(0, k), 1.0 + confidence[k] / (3 * (std::abs(confidence[k]) + 1)), 1e-15);
  }

  // Coupling: p minimises sum_i sum_{j != i} (r_ji p_i - r_ij p_j)^2 with sum p = 1, solved
  // here through its KKT system.
  Eigen::Matrix3d r = Eigen::Matrix3d::Zero();  // r(i, j) = P(i | i or j)
  const double scores[3] = {2.0, -1.0, 0.5};
  int p = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = i + 1; j < 3; ++j, ++p) {
      r(j, i) = sigmoid(scores[p]);
      r(i, j) = 1 - r(j, i);
    }
  }
  Eigen::Matrix4d kkt = Eigen::Matrix4d::Zero();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i == j) continue;
      kkt(i, i) += r(j, i) * r(j, i);
      kkt(i, j) = -r(j, i) * r(i, j);
    }
    kkt(i, 3) = kkt(3, i) = 1;
  }
  const Eigen::Vector4d solution = kkt.fullPivLu().solve(Eigen::Vector4d(0, 0, 0, 1));
  const RowMatrix<double> P = model.predict_proba(X);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(P(0, k), solution[k], 1e-12);
}

TEST(Model, RejectsInconsistentShapesAndWrongFeatureCount) {
  EXPECT_THROW(Model<double>(Strategy::OneVsOne, 4, RowMatrix<double>::Zero(4, 2),
                             Vector<double>::Zero(4)),
               std::invalid_argument);
  EXPECT_THROW(Model<double>(Strategy::Softmax, 3, RowMatrix<double>::Zero(3, 2),
                             Vector<double>::Zero(2)),
               std::invalid_argument);
  const Model<double> model(Strategy::Softmax, 3, RowMatrix<double>::Zero(3, 2),
                            Vector<double>::Zero(3));
  EXPECT_THROW(model.predict(Eigen::MatrixXd::Zero(4, 3)), std::invalid_argument);
  Eigen::MatrixXd with_inf = Eigen::MatrixXd::Zero(4, 2);
  with_inf(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(model.predict_proba(with_inf), std::invalid_argument);
}

// Predictions take as many threads as their work repays (about 1M multiply-adds each): 6000 rows
// of 800 features give every model work for more than one, half of them zero (sparse) as well. Every storage,
// strategy and thread count must score each row the same, to the bit.
TEST(Model, PredictionsDoNotDependOnTheThreadCount) {
  const Index n = 6000, d = 800;
  std::srand(3);
  const RowMatrix<double> X = RowMatrix<double>::Random(n, d);
  const Eigen::MatrixXd X_columns = X;
  Eigen::MatrixXd sparse_values = X;
  sparse_values = (sparse_values.array().abs() < 0.5).select(0.0, sparse_values);
  const Eigen::SparseMatrix<double, Eigen::RowMajor> owned = sparse_values.sparseView();
  const SparseView<double, Eigen::RowMajor, int> X_sparse(
      owned.rows(), owned.cols(), owned.nonZeros(), owned.outerIndexPtr(),
      owned.innerIndexPtr(), owned.valuePtr());
  for (int n_classes : {2, 4}) {
    for (Strategy strategy : {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne}) {
      const int units = n_units(strategy, n_classes);
      const Model<double> model(strategy, n_classes, RowMatrix<double>::Random(units, d) * 0.05,
                                Vector<double>::Random(units));
      const auto same_for_every_thread_count = [&](const auto& data) {
        const RowMatrix<double> P = model.predict_proba(data, 1);
        const RowMatrix<double> D = model.decision_function(data, 1);
        const Eigen::VectorXi labels = model.predict(data, 1);
        for (int n_threads : {2, 3}) {
          EXPECT_TRUE((model.predict_proba(data, n_threads).array() == P.array()).all());
          EXPECT_TRUE((model.decision_function(data, n_threads).array() == D.array()).all());
          EXPECT_TRUE((model.predict(data, n_threads).array() == labels.array()).all());
        }
      };
      SCOPED_TRACE(std::string(to_string(strategy)) + ", " + std::to_string(n_classes));
      same_for_every_thread_count(X);
      same_for_every_thread_count(X_columns);
      same_for_every_thread_count(X_sparse);
    }
  }
}

}  // namespace
