// Per-row loss and its derivative with respect to the linear scores, in numerically stable form.
#pragma once

#include <cmath>

namespace multilogit::detail {

// log(1 + exp(x)) without overflow.
inline double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// 1 / (1 + exp(-x)) without overflow.
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// Binary logistic loss on one unit: t = +1 for the positive class, -1 otherwise.
struct BinaryLink {
  static constexpr bool kShiftInvariant = false;
  int positive_class;

  template <typename Scalar>
  double operator()(const Scalar* z, int label, Scalar* residual) const {
    const double t = label == positive_class ? 1.0 : -1.0;
    const double margin = t * static_cast<double>(z[0]);
    residual[0] = static_cast<Scalar>(-t * sigmoid(-margin));
    return softplus(-margin);
  }
};

// Multinomial cross-entropy on n_units scores: logsumexp(z) - z[label]. Adding the same number
// to every score leaves it unchanged, so its exact gradient sums to zero over the units.
struct SoftmaxLink {
  static constexpr bool kShiftInvariant = true;
  int n_units;

  template <typename Scalar>
  double operator()(const Scalar* z, int label, Scalar* residual) const {
    double max = static_cast<double>(z[0]);
    for (int k = 1; k < n_units; ++k) max = std::fmax(max, static_cast<double>(z[k]));
    double sum = 0.0;
    for (int k = 0; k < n_units; ++k) sum += std::exp(static_cast<double>(z[k]) - max);
    const double log_sum = std::log(sum);
    for (int k = 0; k < n_units; ++k) {
      residual[k] = static_cast<Scalar>(std::exp(static_cast<double>(z[k]) - max - log_sum));
    }
    residual[label] -= Scalar(1);
    return max + log_sum - static_cast<double>(z[label]);
  }
};

}  // namespace multilogit::detail
