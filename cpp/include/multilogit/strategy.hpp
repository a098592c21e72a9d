// The three ways of building a multi-class classifier from logistic regression.
#pragma once

#include <string_view>

namespace multilogit {

enum class Strategy {
  Softmax,   // one multinomial model over all classes
  OneVsAll,  // one binary model per class, that class against the rest
  OneVsOne,  // one binary model per pair of classes, prediction by votes
};

// Parses "softmax", "ovr" (also "ova") or "ovo"; throws std::invalid_argument otherwise.
Strategy parse_strategy(std::string_view name);

// The canonical name: "softmax", "ovr" or "ovo".
std::string_view to_string(Strategy strategy);

// Number of linear units (rows of coef) the strategy fits for n_classes classes. Two classes are
// always a single binary model.
int n_units(Strategy strategy, int n_classes);

// Number of independent optimisation problems the strategy solves.
int n_problems(Strategy strategy, int n_classes);

}  // namespace multilogit
