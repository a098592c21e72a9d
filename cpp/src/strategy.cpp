#include "multilogit/strategy.hpp"

#include <stdexcept>
#include <string>

#include "multilogit/trainers.hpp"

namespace multilogit {

Strategy parse_strategy(std::string_view name) {
  if (name == "softmax" || name == "multinomial") return Strategy::Softmax;
  if (name == "ovr" || name == "ova") return Strategy::OneVsAll;
  if (name == "ovo") return Strategy::OneVsOne;
  throw std::invalid_argument("unknown strategy '" + std::string(name) +
                              "': expected 'softmax', 'ovr' or 'ovo'");
}

std::string_view to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::Softmax: return "softmax";
    case Strategy::OneVsAll: return "ovr";
    case Strategy::OneVsOne: return "ovo";
  }
  return "unknown";
}

int n_units(Strategy strategy, int n_classes) {
  if (n_classes == 2) return 1;
  return strategy == Strategy::OneVsOne ? n_classes * (n_classes - 1) / 2 : n_classes;
}

int n_problems(Strategy strategy, int n_classes) {
  return strategy == Strategy::Softmax ? 1 : n_units(strategy, n_classes);
}

template <typename Scalar>
std::unique_ptr<Trainer<Scalar>> make_trainer(Strategy strategy, TrainOptions options) {
  switch (strategy) {
    case Strategy::Softmax: return std::make_unique<SoftmaxRegression<Scalar>>(std::move(options));
    case Strategy::OneVsAll: return std::make_unique<OneVsAllClassifier<Scalar>>(std::move(options));
    case Strategy::OneVsOne: return std::make_unique<OneVsOneClassifier<Scalar>>(std::move(options));
  }
  throw std::invalid_argument("unknown strategy");
}

template std::unique_ptr<Trainer<float>> make_trainer<float>(Strategy, TrainOptions);
template std::unique_ptr<Trainer<double>> make_trainer<double>(Strategy, TrainOptions);

}  // namespace multilogit
