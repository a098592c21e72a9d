// Sample weights, warm starts and interruption.
#include <atomic>
#include <stdexcept>

#include <gtest/gtest.h>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;

const Strategy kStrategies[] = {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne};

TrainOptions tight() {
  TrainOptions options;
  options.tol = 1e-10;
  options.max_iter = 2000;
  options.n_threads = 1;
  return options;
}

TEST(FitInputs, IntegerWeightsEqualRepeatedRows) {
  const auto data = make_blobs(3, 40, 4, 2.5);
  Eigen::VectorXd weights(data.X.rows());
  Index repeated_rows = 0;
  for (Index i = 0; i < weights.size(); ++i) {
    weights[i] = static_cast<double>(i % 4);  // 0 removes a row, 3 triples it
    repeated_rows += i % 4;
  }
  Eigen::MatrixXd X_repeated(repeated_rows, data.X.cols());
  Eigen::VectorXi y_repeated(repeated_rows);
  for (Index i = 0, r = 0; i < weights.size(); ++i) {
    for (int copy = 0; copy < static_cast<int>(weights[i]); ++copy, ++r) {
      X_repeated.row(r) = data.X.row(i);
      y_repeated[r] = data.y[i];
    }
  }
  for (Strategy strategy : kStrategies) {
    const auto weighted = train(strategy, data.X, data.y, 3, weights, tight());
    const auto repeated = train(strategy, X_repeated, y_repeated, 3, tight());
    EXPECT_LT((weighted.coef() - repeated.coef()).norm(), 1e-6 * repeated.coef().norm())
        << to_string(strategy);
    EXPECT_LT((weighted.intercept() - repeated.intercept()).norm(),
              1e-6 * (1 + repeated.intercept().norm()));
  }
}

TEST(FitInputs, RejectsBadWeights) {
  const auto data = make_blobs(3, 10, 2, 1.0);
  SoftmaxRegression<double> trainer;
  Eigen::VectorXd weights = Eigen::VectorXd::Ones(data.X.rows());
  EXPECT_THROW(trainer.fit(data.X, data.y, 3, Eigen::VectorXd(weights.head(4))),
               std::invalid_argument);
  weights[3] = -1;
  EXPECT_THROW(trainer.fit(data.X, data.y, 3, weights), std::invalid_argument);
  weights[3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(trainer.fit(data.X, data.y, 3, weights), std::invalid_argument);
  weights.setOnes();
  for (Index i = 0; i < weights.size(); ++i) {
    if (data.y[i] == 2) weights[i] = 0;
  }
  EXPECT_THROW(trainer.fit(data.X, data.y, 3, weights), std::invalid_argument);
}

TEST(FitInputs, WarmStartNeedsFewerIterationsAndReachesTheSameOptimum) {
  const auto data = make_blobs(4, 200, 6, 3.0);
  const Eigen::VectorXd ones = Eigen::VectorXd::Ones(data.X.rows());
  for (Strategy strategy : kStrategies) {
    TrainOptions options = tight();
    options.tol = 1e-8;
    options.C = 1.0;
    const auto previous = make_trainer<double>(strategy, options)->fit(data.X, data.y, 4);
    options.C = 1.2;
    const auto trainer = make_trainer<double>(strategy, options);
    const auto cold = trainer->fit(data.X, data.y, 4);
    const auto warm = trainer->fit(data.X, data.y, 4, ones, &previous);
    int cold_iterations = 0, warm_iterations = 0;
    for (const auto& r : cold.reports()) cold_iterations += r.n_iter;
    for (const auto& r : warm.reports()) warm_iterations += r.n_iter;
    EXPECT_LT(warm_iterations, cold_iterations) << to_string(strategy);
    EXPECT_LT((warm.coef() - cold.coef()).norm(), 1e-5 * cold.coef().norm());

    const auto other_shape = make_trainer<double>(strategy, options)->fit(
        Eigen::MatrixXd(data.X.leftCols(5)), data.y, 4);
    EXPECT_THROW(trainer->fit(data.X, data.y, 4, ones, &other_shape), std::invalid_argument);
  }
}

TEST(FitInputs, ShouldStopInterruptsEveryStrategy) {
  const auto data = make_blobs(4, 500, 6, 3.0);
  for (Strategy strategy : kStrategies) {
    std::atomic<int> polls{0};
    TrainOptions options = tight();
    options.n_threads = 2;
    options.should_stop = [&polls] { return ++polls >= 3; };
    EXPECT_THROW(train(strategy, data.X, data.y, 4, options), Interrupted) << to_string(strategy);
  }
}

}  // namespace
