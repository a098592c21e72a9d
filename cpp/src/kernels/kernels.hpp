// The hot loops of training and prediction on dense rows, behind a table of function pointers.
//
// The table is compiled once per instruction set (kernels_isa.cpp: baseline x86-64, AVX2 + FMA,
// AVX-512) and the best one the CPU supports is chosen at run time, so a portable build runs as
// fast as one compiled for this machine. The interface holds no Eigen types: each build of the
// kernels keeps its own, renamed copy of Eigen (see kernels_isa.cpp).
#pragma once

#include <cstddef>
#include <type_traits>

namespace multilogit::detail {

using KernelIndex = std::ptrdiff_t;

// A dense block of rows in either storage order: element (r, c) is at
// data[r * outer_stride + c] when row_major, else at data[r + c * outer_stride]. A row-major
// block may also pick its rows by index, row r being row_index[r] of data: the rows of a subset
// are then read where they are, never copied.
template <typename Scalar>
struct DenseBlock {
  const Scalar* data;
  KernelIndex rows, cols, outer_stride;
  bool row_major;
  const KernelIndex* row_index = nullptr;
  // Memory a kernel reading the block may bring into cache as it goes (the rows a pass streams
  // next), or null: the gradient product asks for it line by line.
  const void* ahead = nullptr;
  KernelIndex ahead_bytes = 0;

  const Scalar* row(KernelIndex r) const {
    return data + (row_index ? row_index[r] : r) * outer_stride;
  }
};

// The block viewing a dense Eigen matrix or block with unit inner stride.
template <typename Dense>
auto dense_block(const Dense& X) {
  using Scalar = std::remove_const_t<std::remove_pointer_t<decltype(X.data())>>;
  return DenseBlock<Scalar>{X.data(), X.rows(), X.cols(), X.outerStride(), bool(Dense::IsRowMajor)};
}

// Values of scratch that add_weighted_grams needs for a block of rows x cols.
inline KernelIndex gram_scratch_size(KernelIndex rows, KernelIndex cols) {
  return (2 * rows + cols + 1) * cols;
}

// The fused kernels (those taking X and the units' weights) score row-major X with at least
// this many units tile by tile of rows, each row read once, and need no room for the scores
// (R or U may be null); otherwise they score all of the block's rows first, into that room, so a
// block should fit in cache. For the fewest units a tile's transposition costs more than it
// saves, and dot products along each row do better.
constexpr KernelIndex kMinTileUnits = 3;

// Where a fused kernel adds [X 1]^T R for the derivatives R it computes, as
// add_transposed_product adds it: G (d x k, column-major float64), g (k; null: no column sums),
// and scratch for d x k values.
template <typename Scalar>
struct ProductSums {
  double* G;
  double* g;
  Scalar* scratch;
};

// Binary units side by side on the same rows, each one problem's. Unit u with positive[u] >= 0
// takes the binary logistic loss of its scores, positive for rows of class positive[u], as
// binary_loss does, writing its curvature unless curvature[u] is null. Unit u with
// positive[u] < 0 holds a direction's scores, which it multiplies by its kept curvature[u] (a
// Hessian-vector product's). Row r of a block is row first + r of the curvature.
template <typename Scalar>
struct BinaryUnits {
  const int* positive;
  Scalar* const* curvature;
  KernelIndex first;
};

template <typename Scalar>
struct KernelTable {
  const char* instruction_set;

  // Z (rows x k, row-major) = X W^T + 1 b^T, with W k x d row-major (each unit's weights
  // contiguous, as a model's coef) and b of length k (null: 0).
  void (*linear_scores)(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b, KernelIndex k,
                 Scalar* Z);

  // G (d x k, column-major, float64) += X^T R, with R rows x k row-major, and unless g is null
  // g (k, float64) += R^T 1, the column sums of R. `scratch` holds d x k.
  void (*add_transposed_product)(const DenseBlock<Scalar>& X, const Scalar* R, KernelIndex k,
                                 Scalar* scratch, double* G, double* g);

  // sums[j] += sum_i w_i x_ij and squares[j] += sum_i w_i x_ij^2 over the rows i of X, with w
  // the rows' weights (null: 1): the weighted column moments, from one pass over X.
  void (*add_column_moments)(const DenseBlock<Scalar>& X, const double* weights, double* sums,
                             double* squares);

  // Multinomial cross-entropy of rows x k scores Z against class indices `labels`, weighted by
  // `weights` (null: 1). Returns the weighted sum of the losses and overwrites Z with the
  // weighted residuals (softmax(z) - onehot(label)) * weight, the derivative of each row's loss.
  // Unless null, P (rows x k, row-major) receives the probabilities softmax(z).
  double (*softmax_loss)(Scalar* Z, KernelIndex rows, KernelIndex k, const int* labels,
                         const double* weights, Scalar* P);

  // softmax_loss of the scores Z = X W^T + 1 b^T (W, b as for linear_scores), computed tile by
  // tile of rows as they are scored, and X^T R added to `sums` for the weighted residuals R while
  // the tile's rows are in cache. R (rows x k, row-major) is room the kernel may use for them
  // (see kMinTileUnits).
  double (*softmax_scores_loss)(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                                KernelIndex k, const int* labels, const double* weights, Scalar* R,
                                Scalar* P, const ProductSums<Scalar>& sums);

  // Binary logistic loss of one score per row, positive when labels[i] == positive_class.
  // Returns the weighted loss and overwrites z with the weighted derivative. Unless null,
  // `curvature` receives the weighted second derivative weight * sigmoid(z) * sigmoid(-z).
  double (*binary_loss)(Scalar* z, KernelIndex rows, const int* labels, int positive_class,
                        const double* weights, Scalar* curvature);

  // The k binary units' losses, added to losses[u] (float64, weighted by `weights`, null: 1),
  // and in place of their scores Z (rows x k, row-major) the weighted derivatives or the
  // curvature products.
  void (*binary_units_loss)(Scalar* Z, KernelIndex rows, KernelIndex k,
                            const BinaryUnits<Scalar>& units, const int* labels,
                            const double* weights, double* losses);

  // binary_units_loss of the scores Z = X W^T + 1 b^T (W, b as for linear_scores), computed
  // tile by tile of rows as they are scored, and X^T R added to `sums` for what the units leave
  // in place of the scores, while the tile's rows are in cache. R (rows x k, row-major) is room
  // the kernel may use for them (see kMinTileUnits).
  void (*binary_units_scores_loss)(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                                   KernelIndex k, const BinaryUnits<Scalar>& units,
                                   const int* labels, const double* weights, double* losses,
                                   Scalar* R, const ProductSums<Scalar>& sums);

  // In place: each row u of U (rows x k) becomes weight * (diag(p) - p p^T) u, the softmax
  // loss's Hessian applied to u, with p the row of P and weights null for 1.
  void (*softmax_curvature)(const Scalar* P, const double* weights, Scalar* U, KernelIndex rows,
                            KernelIndex k);

  // softmax_curvature of the scores X V^T + 1 c^T (V, c as W, b for linear_scores), computed
  // tile by tile of rows as they are scored, and X^T U added to `sums` for those products U
  // while the tile's rows are in cache. U (rows x k) is room the kernel may use for them (see
  // kMinTileUnits).
  void (*softmax_curvature_scores)(const DenseBlock<Scalar>& X, const Scalar* V, const Scalar* c,
                                   KernelIndex k, const Scalar* P, const double* weights,
                                   Scalar* U, const ProductSums<Scalar>& sums);

  // G_j += A^T diag(D_j) A for j < n_weights, with A = X, or [X 1] when with_ones (a column of
  // ones appended). D holds the weight vectors side by side (rows x n_weights, column-major), G
  // the Gram matrices side by side (m x (m n_weights), column-major float64, m the width of A).
  // `scratch` holds gram_scratch_size(X.rows, X.cols) values.
  void (*add_weighted_grams)(const DenseBlock<Scalar>& X, const Scalar* D, KernelIndex n_weights,
                             bool with_ones, Scalar* scratch, double* G);

  // In place: each row of Z (rows x k) becomes softmax(row).
  void (*softmax)(Scalar* Z, KernelIndex rows, KernelIndex k);

  // P (rows x k, row-major) = the softmax of each row of X W^T + 1 b^T (W, b as for
  // linear_scores).
  void (*softmax_scores)(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                         KernelIndex k, Scalar* P);

  // Whether every value of X is finite (no NaN, no infinity).
  bool (*all_finite)(const DenseBlock<Scalar>& X);

  // In place: z becomes 1 / (1 + exp(-z)).
  void (*sigmoid)(Scalar* z, KernelIndex size);

  // L-BFGS's two-loop recursion in its two loops, in float64 whatever Scalar, for the `count`
  // correction pairs s[i], y[i] (n values each, oldest first) with rho[i] = 1 / (s[i] . y[i]).
  // The first takes q through the pairs newest first and leaves their alpha[i] (room for count
  // values); the second, given H0 times the first's q, makes q = H times the original q.
  void (*two_loop_first)(const double* const* s, const double* const* y, const double* rho,
                         KernelIndex count, KernelIndex n, double* alpha, double* q);
  void (*two_loop_second)(const double* const* s, const double* const* y, const double* rho,
                          const double* alpha, KernelIndex count, KernelIndex n, double* q);
};

// The kernels for the instruction set in use (see multilogit/instruction_set.hpp).
template <typename Scalar>
const KernelTable<Scalar>& kernels();

// The instruction sets this build holds kernels for, best last, and the table of one of them if
// this CPU can run it (else null). For tests that compare the builds with each other.
enum class InstructionSet { Generic, Avx2, Avx512 };
template <typename Scalar>
const KernelTable<Scalar>* kernels_for(InstructionSet set);

}  // namespace multilogit::detail
