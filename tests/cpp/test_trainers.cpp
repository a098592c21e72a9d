#include <stdexcept>

#include <gtest/gtest.h>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;

const Strategy kStrategies[] = {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne};

TrainOptions tight(int n_threads = 1) {
  TrainOptions options;
  options.tol = 1e-8;
  options.max_iter = 1000;
  options.n_threads = n_threads;
  return options;
}

double accuracy(const Eigen::VectorXi& predicted, const Eigen::VectorXi& y) {
  return (predicted.array() == y.array()).cast<double>().mean();
}

TEST(Trainers, EveryStrategyLearnsBlobs) {
  const auto data = make_blobs(4, 100, 5, 1.0);
  for (Strategy strategy : kStrategies) {
    const Model<double> model = train(strategy, data.X, data.y, 4, tight());
    EXPECT_EQ(model.strategy(), strategy);
    EXPECT_EQ(model.coef().rows(), n_units(strategy, 4));
    EXPECT_EQ(static_cast<int>(model.reports().size()), n_problems(strategy, 4));
    for (const auto& report : model.reports()) {
      EXPECT_TRUE(report.converged());
      EXPECT_LE(report.gradient_norm, 1e-8);
    }
    EXPECT_GT(accuracy(model.predict(data.X), data.y), 0.95) << to_string(strategy);
  }
}

TEST(Trainers, StorageOrderAndThreadCountDoNotChangeTheResult) {
  const auto data = make_blobs(3, 3000, 8, 2.5);
  const RowMatrix<double> row_major = data.X;
  for (Strategy strategy : kStrategies) {
    const auto reference = train(strategy, data.X, data.y, 3, tight(1));
    for (int threads : {2, 4}) {
      const auto other = train(strategy, data.X, data.y, 3, tight(threads));
      EXPECT_TRUE((other.coef().array() == reference.coef().array()).all());
      EXPECT_TRUE((other.intercept().array() == reference.intercept().array()).all());
    }
    const auto from_rows = train(strategy, row_major, data.y, 3, tight(2));
    EXPECT_LT((from_rows.coef() - reference.coef()).norm(), 1e-6 * reference.coef().norm());
  }
}

TEST(Trainers, FloatMatchesDoubleToItsPrecision) {
  const auto data = make_blobs(3, 200, 4, 2.0);
  const Eigen::MatrixXf X = data.X.cast<float>();
  for (Strategy strategy : kStrategies) {
    TrainOptions options = tight();
    options.tol = 1e-4;
    const auto single = train(strategy, X, data.y, 3, options);
    const auto full = train(strategy, data.X, data.y, 3, tight());
    const double error = (single.coef().cast<double>() - full.coef()).norm() / full.coef().norm();
    EXPECT_LT(error, 1e-3) << to_string(strategy);
  }
}

TEST(Trainers, TwoClassesAreOneBinaryProblemForEveryStrategy) {
  const auto data = make_blobs(2, 150, 3, 3.0);
  const auto reference = train(Strategy::Softmax, data.X, data.y, 2, tight());
  ASSERT_EQ(reference.coef().rows(), 1);
  for (Strategy strategy : kStrategies) {
    const auto model = train(strategy, data.X, data.y, 2, tight());
    EXPECT_EQ(model.coef().rows(), 1);
    EXPECT_TRUE((model.coef().array() == reference.coef().array()).all());
    EXPECT_EQ(model.decision_function(data.X).cols(), 1);
    EXPECT_EQ(model.predict_proba(data.X).cols(), 2);
  }
}

TEST(Trainers, UnpenalisedFitOnOverlappingClassesConverges) {
  const auto data = make_blobs(3, 200, 3, 4.0);
  TrainOptions options = tight();
  options.C = std::numeric_limits<double>::infinity();
  const auto model = train(Strategy::Softmax, data.X, data.y, 3, options);
  EXPECT_TRUE(model.reports()[0].converged());
}

// However many correction pairs L-BFGS keeps (0: its automatic choice), every strategy reaches
// the same optimum.
TEST(Trainers, EveryLbfgsMemoryReachesTheOptimum) {
  const auto data = make_blobs(4, 150, 6, 3.0);
  for (Strategy strategy : kStrategies) {
    SCOPED_TRACE(to_string(strategy));
    TrainOptions options = tight();
    options.tol = 1e-10;
    options.solver = Solver::Lbfgs;
    options.lbfgs_memory = 1;
    const auto reference = train(strategy, data.X, data.y, 4, options);
    for (int memory : {0, 10, 1000}) {
      options.lbfgs_memory = memory;
      const auto model = train(strategy, data.X, data.y, 4, options);
      for (const ProblemReport& report : model.reports()) EXPECT_TRUE(report.converged());
      EXPECT_LT((model.coef() - reference.coef()).norm(), 1e-7 * reference.coef().norm())
          << memory << " pairs";
    }
  }
}

TEST(Trainers, RejectsBadInput) {
  const auto data = make_blobs(3, 10, 2, 1.0);
  const TrainOptions options;
  for (Strategy strategy : kStrategies) {
    EXPECT_THROW(train(strategy, data.X, data.y, 1, options), std::invalid_argument);
    EXPECT_THROW(train(strategy, data.X, Eigen::VectorXi(data.y.head(5)), 3, options),
                 std::invalid_argument);
    Eigen::MatrixXd with_nan = data.X;
    with_nan(4, 1) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(train(strategy, with_nan, data.y, 3, options), std::invalid_argument);
    Eigen::VectorXi out_of_range = data.y;
    out_of_range[0] = 3;
    EXPECT_THROW(train(strategy, data.X, out_of_range, 3, options), std::invalid_argument);
    EXPECT_THROW(train(strategy, data.X, data.y, 4, options), std::invalid_argument);  // empty class
    EXPECT_THROW(train(strategy, Eigen::MatrixXd(0, 2), Eigen::VectorXi(0), 3, options),
                 std::invalid_argument);
  }
  TrainOptions bad;
  bad.C = 0;
  EXPECT_THROW(SoftmaxRegression<double>{bad}, std::invalid_argument);
  bad = TrainOptions{};
  bad.tol = -1;
  EXPECT_THROW(OneVsAllClassifier<double>{bad}, std::invalid_argument);
  bad = TrainOptions{};
  bad.max_iter = 0;
  EXPECT_THROW(OneVsOneClassifier<double>{bad}, std::invalid_argument);
  bad = TrainOptions{};
  bad.lbfgs_memory = -1;
  EXPECT_THROW(SoftmaxRegression<double>{bad}, std::invalid_argument);
  EXPECT_THROW(parse_strategy("svm"), std::invalid_argument);
}

}  // namespace
