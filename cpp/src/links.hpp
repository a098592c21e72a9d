// The per-row losses of the linear units' scores: which kernel evaluates a chunk of them.
#pragma once

#include <cmath>

#include "kernels/kernels.hpp"

namespace multilogit::detail {

// 1 / (1 + exp(-x)) without overflow.
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// Binary logistic loss on one unit, positive for rows of class positive_class.
struct BinaryLink {
  static constexpr bool kShiftInvariant = false;
  int positive_class;

  // Returns the chunk's weighted loss and turns its scores Z into the losses' derivatives.
  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, Scalar* Z, KernelIndex rows,
                    const int* labels, const double* weights) const {
    return kernels.binary_loss(Z, rows, labels, positive_class, weights);
  }
};

// Multinomial cross-entropy on n_units scores: logsumexp(z) - z[label]. Adding the same number
// to every score leaves it unchanged, so its exact gradient sums to zero over the units.
struct SoftmaxLink {
  static constexpr bool kShiftInvariant = true;
  int n_units;

  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, Scalar* Z, KernelIndex rows,
                    const int* labels, const double* weights) const {
    return kernels.softmax_loss(Z, rows, n_units, labels, weights);
  }
};

}  // namespace multilogit::detail
