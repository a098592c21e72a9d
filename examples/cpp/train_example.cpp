// Trains every multilogit strategy on a small synthetic data set and prints its accuracy.
//
// The data are Gaussian blobs, one per class, generated here from a fixed seed: no files needed.
// Exits with status 1 if a strategy fails or scores implausibly low on held-out data.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <string_view>

#include <Eigen/Core>

#include <multilogit/multilogit.hpp>

namespace {

constexpr int kClasses = 4;
constexpr int kFeatures = 6;
constexpr double kMinAccuracy = 0.8;

struct Dataset {
  multilogit::RowMatrix<double> X;
  Eigen::VectorXi y;
};

// Standard normal draws by Box-Muller on std::mt19937, whose output the C++ standard fixes, so
// every standard library produces the same data (std::normal_distribution does not promise it).
class NormalSource {
 public:
  explicit NormalSource(std::uint32_t seed) : engine_(seed) {}

  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * 3.14159265358979323846 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  double uniform() {  // in (0, 1)
    return (static_cast<double>(engine_()) + 0.5) / 4294967296.0;
  }

  std::mt19937 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// Class k is centred at `separation` times the k-th unit vector, with unit-variance noise.
// Labels cycle through the classes, so every class is present in any large enough prefix.
Dataset make_blobs(int n_samples, double separation, std::uint32_t seed) {
  NormalSource normal(seed);
  Dataset data{multilogit::RowMatrix<double>(n_samples, kFeatures), Eigen::VectorXi(n_samples)};
  for (int i = 0; i < n_samples; ++i) {
    const int label = i % kClasses;
    data.y(i) = label;
    for (int j = 0; j < kFeatures; ++j) {
      data.X(i, j) = normal() + (j == label ? separation : 0.0);
    }
  }
  return data;
}

double accuracy(const Eigen::VectorXi& predicted, const Eigen::VectorXi& truth) {
  return static_cast<double>((predicted.array() == truth.array()).count()) /
         static_cast<double>(truth.size());
}

}  // namespace

int main() {
  const Dataset train = make_blobs(600, 3.5, 20240601u);
  const Dataset test = make_blobs(200, 3.5, 20240602u);

  multilogit::TrainOptions options;
  options.C = 1.0;
  options.tol = 1e-6;
  options.max_iter = 500;

  std::printf("multilogit example: %d classes, %d features, %d training / %d test samples\n\n",
              kClasses, kFeatures, static_cast<int>(train.X.rows()),
              static_cast<int>(test.X.rows()));
  std::printf("%-8s %7s %9s %10s %10s %9s\n", "strategy", "models", "converged", "train acc",
              "test acc", "time (ms)");

  bool ok = true;
  for (const multilogit::Strategy strategy :
       {multilogit::Strategy::Softmax, multilogit::Strategy::OneVsAll,
        multilogit::Strategy::OneVsOne}) {
    const std::string_view name = multilogit::to_string(strategy);
    try {
      const auto start = std::chrono::steady_clock::now();
      const multilogit::Model<double> model =
          multilogit::train(strategy, train.X, train.y, kClasses, options);
      const double elapsed_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();

      int converged = 0;
      for (const multilogit::ProblemReport& report : model.reports()) {
        converged += report.converged() ? 1 : 0;
      }
      const double train_accuracy = accuracy(model.predict(train.X), train.y);
      const double test_accuracy = accuracy(model.predict(test.X), test.y);
      std::printf("%-8.*s %7d %5d/%-3d %10.3f %10.3f %9.1f\n", static_cast<int>(name.size()),
                  name.data(), static_cast<int>(model.coef().rows()), converged,
                  static_cast<int>(model.reports().size()), train_accuracy, test_accuracy,
                  elapsed_ms);
      if (!(test_accuracy >= kMinAccuracy)) {
        std::fprintf(stderr, "error: %.*s test accuracy %.3f is below %.2f\n",
                     static_cast<int>(name.size()), name.data(), test_accuracy, kMinAccuracy);
        ok = false;
      }
      if (strategy == multilogit::Strategy::Softmax) {
        const multilogit::RowMatrix<double> proba = model.predict_proba(test.X.topRows(1));
        std::printf("         first test sample (class %d), probabilities:", test.y(0));
        for (Eigen::Index k = 0; k < proba.cols(); ++k) std::printf(" %.3f", proba(0, k));
        std::printf("\n");
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "error: training %.*s failed: %s\n", static_cast<int>(name.size()),
                   name.data(), error.what());
      ok = false;
    }
  }

  std::printf("\n%s\n", ok ? "all strategies OK" : "FAILED");
  return ok ? 0 : 1;
}
