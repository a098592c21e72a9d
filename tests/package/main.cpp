// Trains a model through the public API only and checks that it predicts sensibly.
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include <Eigen/Core>

#include <multilogit/multilogit.hpp>

#ifndef CONSUMED_AS
#define CONSUMED_AS "unknown"
#endif

namespace {

int failures = 0;

void check(bool condition, const char* what) {
  std::printf("  [%s] %s\n", condition ? "ok" : "FAIL", what);
  if (!condition) ++failures;
}

// Three well separated classes in two dimensions, column-major on purpose.
void make_data(Eigen::MatrixXf& X, Eigen::VectorXi& y) {
  const int n = 90;
  X.resize(n, 2);
  y.resize(n);
  const float centers[3][2] = {{0.f, 0.f}, {4.f, 0.f}, {0.f, 4.f}};
  for (int i = 0; i < n; ++i) {
    const int label = i % 3;
    // Deterministic jitter in [-1, 1].
    const float dx = std::sin(1.7f * static_cast<float>(i));
    const float dy = std::cos(2.3f * static_cast<float>(i));
    X(i, 0) = centers[label][0] + dx;
    X(i, 1) = centers[label][1] + dy;
    y(i) = label;
  }
}

}  // namespace

int main() {
  std::printf("multilogit package test, consumed via %s\n", CONSUMED_AS);
  try {
    Eigen::MatrixXf X;
    Eigen::VectorXi y;
    make_data(X, y);

    multilogit::TrainOptions options;
    options.C = 10.0;
    options.max_iter = 200;
    const multilogit::Strategy strategy = multilogit::parse_strategy("softmax");
    const multilogit::Model<float> model = multilogit::train(strategy, X, y, 3, options);

    check(model.n_classes() == 3, "model has 3 classes");
    check(model.n_features() == 2, "model has 2 features");
    check(model.coef().rows() == 3 && model.intercept().size() == 3, "coef is 3 x 2");
    check(model.coef().allFinite() && model.intercept().allFinite(), "coefficients are finite");

    const Eigen::VectorXi predicted = model.predict(X);
    const double accuracy = static_cast<double>((predicted.array() == y.array()).count()) /
                            static_cast<double>(y.size());
    std::printf("  training accuracy %.3f\n", accuracy);
    check(accuracy >= 0.95, "training accuracy >= 0.95");

    Eigen::MatrixXf probe(3, 2);
    probe << 0.f, 0.f, 4.f, 0.f, 0.f, 4.f;
    const Eigen::VectorXi probe_class = model.predict(probe);
    check(probe_class(0) == 0 && probe_class(1) == 1 && probe_class(2) == 2,
          "each class centre is predicted as its class");

    const multilogit::RowMatrix<float> proba = model.predict_proba(probe);
    check(proba.rows() == 3 && proba.cols() == 3, "predict_proba is 3 x 3");
    check(((proba.rowwise().sum().array() - 1.f).abs() < 1e-4f).all(),
          "probabilities sum to one");

    bool rejected = false;
    try {
      multilogit::parse_strategy("no-such-strategy");
    } catch (const std::invalid_argument&) {
      rejected = true;
    }
    check(rejected, "an unknown strategy name throws std::invalid_argument");
  } catch (const std::exception& error) {
    std::fprintf(stderr, "unexpected exception: %s\n", error.what());
    return 1;
  }

  if (failures != 0) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
