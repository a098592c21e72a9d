// The per-row losses of the linear units' scores: which kernel evaluates a chunk of them, and
// what each keeps of a row for the loss's second derivatives (its curvature).
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
// Curvature: one value per row, the weighted second derivative s p (1 - p).
struct BinaryLink {
  static constexpr bool kShiftInvariant = false;
  int positive_class;

  // Returns the chunk's weighted loss and turns its scores Z into the losses' derivatives;
  // writes the rows' curvature unless it is null.
  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, Scalar* Z, KernelIndex rows,
                    const int* labels, const double* weights, Scalar* curvature) const {
    return kernels.binary_loss(Z, rows, labels, positive_class, weights, curvature);
  }

  // The same from dense rows X and the units' W (k x d row-major) and b (null: 0), for the
  // scores X W^T + 1 b^T, adding [X 1]^T Z to `sums` for the derivatives Z (room in Z).
  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, const DenseBlock<Scalar>& X,
                    const Scalar* W, const Scalar* b, Scalar* Z, const int* labels,
                    const double* weights, Scalar* curvature,
                    const ProductSums<Scalar>& sums) const {
    kernels.linear_scores(X, W, b, 1, Z);
    const double loss = (*this)(kernels, Z, X.rows, labels, weights, curvature);
    kernels.add_transposed_product(X, Z, 1, sums.scratch, sums.G, sums.g);
    return loss;
  }

  // In place: each row's direction scores U become the loss's Hessian applied to them.
  template <typename Scalar>
  void curvature_product(const KernelTable<Scalar>&, const Scalar* curvature,
                         const double* /*weights, already in the curvature*/, Scalar* U,
                         KernelIndex rows) const {
    for (KernelIndex i = 0; i < rows; ++i) U[i] *= curvature[i];
  }

  // The same from dense rows X and the direction's V (1 x d) and c (null: 0), adding
  // [X 1]^T U to `sums` for the products U (room in U).
  template <typename Scalar>
  void curvature_product(const KernelTable<Scalar>& kernels, const DenseBlock<Scalar>& X,
                         const Scalar* V, const Scalar* c, const Scalar* curvature,
                         const double* weights, Scalar* U, const ProductSums<Scalar>& sums) const {
    kernels.linear_scores(X, V, c, 1, U);
    curvature_product(kernels, curvature, weights, U, X.rows);
    kernels.add_transposed_product(X, U, 1, sums.scratch, sums.G, sums.g);
  }

  // D[i] = d^2 loss_i / dz_k dz_l (one unit: k = l = 0).
  template <typename Scalar>
  void curvature_weights(const Scalar* curvature, const double*, KernelIndex rows, int, int,
                         Scalar* D) const {
    for (KernelIndex i = 0; i < rows; ++i) D[i] = curvature[i];
  }

  // D (rows x 1) = d^2 loss_i / dz^2.
  template <typename Scalar>
  void curvature_diagonal(const Scalar* curvature, const double* weights, KernelIndex rows,
                          Scalar* D) const {
    curvature_weights(curvature, weights, rows, 0, 0, D);
  }
};

// Multinomial cross-entropy on n_units scores: logsumexp(z) - z[label]. Adding the same number
// to every score leaves it unchanged, so its exact gradient sums to zero over the units.
// Curvature: the row's probabilities p (n_units values), the Hessian being s (diag(p) - p p^T).
struct SoftmaxLink {
  static constexpr bool kShiftInvariant = true;
  int n_units;

  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, Scalar* Z, KernelIndex rows,
                    const int* labels, const double* weights, Scalar* curvature) const {
    return kernels.softmax_loss(Z, rows, n_units, labels, weights, curvature);
  }

  template <typename Scalar>
  double operator()(const KernelTable<Scalar>& kernels, const DenseBlock<Scalar>& X,
                    const Scalar* W, const Scalar* b, Scalar* Z, const int* labels,
                    const double* weights, Scalar* curvature,
                    const ProductSums<Scalar>& sums) const {
    return kernels.softmax_scores_loss(X, W, b, n_units, labels, weights, Z, curvature, sums);
  }

  template <typename Scalar>
  void curvature_product(const KernelTable<Scalar>& kernels, const Scalar* curvature,
                         const double* weights, Scalar* U, KernelIndex rows) const {
    kernels.softmax_curvature(curvature, weights, U, rows, n_units);
  }

  template <typename Scalar>
  void curvature_product(const KernelTable<Scalar>& kernels, const DenseBlock<Scalar>& X,
                         const Scalar* V, const Scalar* c, const Scalar* curvature,
                         const double* weights, Scalar* U, const ProductSums<Scalar>& sums) const {
    kernels.softmax_curvature_scores(X, V, c, n_units, curvature, weights, U, sums);
  }

  template <typename Scalar>
  void curvature_weights(const Scalar* curvature, const double* weights, KernelIndex rows, int k,
                         int l, Scalar* D) const {
    for (KernelIndex i = 0; i < rows; ++i) {
      const Scalar* p = curvature + i * n_units;
      const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
      D[i] = weight * p[k] * ((k == l ? Scalar(1) : Scalar(0)) - p[l]);
    }
  }

  // D (rows x n_units, row-major) = d^2 loss_i / dz_k^2 = s_i p_k (1 - p_k).
  template <typename Scalar>
  void curvature_diagonal(const Scalar* curvature, const double* weights, KernelIndex rows,
                          Scalar* D) const {
    for (KernelIndex i = 0; i < rows; ++i) {
      const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
      for (int k = 0; k < n_units; ++k) {
        const Scalar p = curvature[i * n_units + k];
        D[i * n_units + k] = weight * p * (Scalar(1) - p);
      }
    }
  }
};

}  // namespace multilogit::detail
