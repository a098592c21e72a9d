// One instruction set's build of the kernels (kernels.hpp).
//
// The build compiles this file once per instruction set, with that set's compiler flags,
// -DMULTILOGIT_ISA=<name> and -DEigen=multilogit_eigen_<name>. Renaming Eigen's namespace gives
// every Eigen template instantiated here (the matrix products above all) a symbol of its own:
// otherwise the linker would keep one of the identically named copies compiled for different
// instruction sets, and could run AVX-512 code on a CPU without it. Everything else here lives
// in namespace multilogit::detail::<name> for the same reason.
#include <type_traits>

#include <Eigen/Core>

#include "kernels.hpp"

#ifndef MULTILOGIT_ISA
#error "compile kernels_isa.cpp with -DMULTILOGIT_ISA=<instruction set name>"
#endif
#define MULTILOGIT_STRINGIFY_(x) #x
#define MULTILOGIT_STRINGIFY(x) MULTILOGIT_STRINGIFY_(x)

namespace multilogit::detail::MULTILOGIT_ISA {
namespace {

using Eigen::Dynamic;
template <typename Scalar>
using RowMajorMatrix = Eigen::Matrix<Scalar, Dynamic, Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using Column = Eigen::Array<Scalar, Dynamic, 1>;

// Nothing here instantiates a standard library template or calls an inline standard function
// (which unoptimised builds emit as shared, weak symbols): buffers are Eigen arrays and the
// little helpers below are our own. ctest checks the symbols of every build's object file.

template <typename Scalar>
Scalar max_of(const Scalar* values, KernelIndex size) {
  Scalar max = values[0];
  for (KernelIndex j = 1; j < size; ++j) max = values[j] > max ? values[j] : max;
  return max;
}

// Calls use(X) with the block as an Eigen map of its storage order.
template <typename Scalar, typename Use>
void with_block(const DenseBlock<Scalar>& block, Use&& use) {
  using Stride = Eigen::OuterStride<>;
  if (block.row_major) {
    use(Eigen::Map<const RowMajorMatrix<Scalar>, 0, Stride>(block.data, block.rows, block.cols,
                                                           Stride(block.outer_stride)));
  } else {
    use(Eigen::Map<const Eigen::Matrix<Scalar, Dynamic, Dynamic>, 0, Stride>(
        block.data, block.rows, block.cols, Stride(block.outer_stride)));
  }
}

// Row-major X: each row is streamed once and scored against every unit while it is in L1,
// as dot products in SIMD packets. Eigen's general product would first copy the block into
// its packed layout, a second pass over memory that costs as much as the arithmetic.

// Asks for the memory `bytes` bytes past [row, row + bytes) ahead of its use: the hardware
// prefetcher alone does not keep the arithmetic fed when X streams from main memory.
inline void prefetch_ahead(const void* row, KernelIndex bytes) {
#if defined(__GNUC__)
  constexpr KernelIndex kDistance = 2048, kLine = 64;
  const char* next = static_cast<const char*>(row) + kDistance;
  for (KernelIndex offset = 0; offset < bytes; offset += kLine) __builtin_prefetch(next + offset);
#else
  (void)row;
  (void)bytes;
#endif
}

// z[u] = x . w_u (+ b[u]) for the kUnits units whose weights start at W (rows of length d).
// kUnits is a constant so that the accumulators live in registers.
template <int kUnits, typename Scalar>
void dot_units(const Scalar* x, const Scalar* W, KernelIndex d, const Scalar* b, Scalar* z) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr KernelIndex kWidth = Eigen::internal::unpacket_traits<Packet>::size;
  const KernelIndex full = d / kWidth * kWidth;
  Packet sums[kUnits];
  for (int u = 0; u < kUnits; ++u) sums[u] = Eigen::internal::pset1<Packet>(Scalar(0));
  for (KernelIndex j = 0; j < full; j += kWidth) {
    const Packet values = Eigen::internal::ploadu<Packet>(x + j);
    for (int u = 0; u < kUnits; ++u) {
      sums[u] = Eigen::internal::pmadd(values, Eigen::internal::ploadu<Packet>(W + u * d + j),
                                       sums[u]);
    }
  }
  for (int u = 0; u < kUnits; ++u) {
    Scalar sum = Eigen::internal::predux(sums[u]);
    for (KernelIndex j = full; j < d; ++j) sum += x[j] * W[u * d + j];
    z[u] = b ? sum + b[u] : sum;
  }
}

template <typename Scalar>
void linear_scores_of_rows(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                           KernelIndex k, Scalar* Z) {
  constexpr int kGroup = 8;  // units per pass over a row: enough independent sums in flight
  const KernelIndex d = X.cols;
  for (KernelIndex i = 0; i < X.rows; ++i) {
    const Scalar* x = X.data + i * X.outer_stride;
    Scalar* z = Z + i * k;
    prefetch_ahead(x, d * KernelIndex(sizeof(Scalar)));
    KernelIndex u = 0;
    for (; u + kGroup <= k; u += kGroup) dot_units<kGroup>(x, W + u * d, d, b ? b + u : b, z + u);
    const Scalar* w = W + u * d;
    const Scalar* bias = b ? b + u : b;
    switch (k - u) {
      case 7: dot_units<7>(x, w, d, bias, z + u); break;
      case 6: dot_units<6>(x, w, d, bias, z + u); break;
      case 5: dot_units<5>(x, w, d, bias, z + u); break;
      case 4: dot_units<4>(x, w, d, bias, z + u); break;
      case 3: dot_units<3>(x, w, d, bias, z + u); break;
      case 2: dot_units<2>(x, w, d, bias, z + u); break;
      case 1: dot_units<1>(x, w, d, bias, z + u); break;
      default: break;
    }
  }
}

template <typename Scalar>
void linear_scores(const DenseBlock<Scalar>& block, const Scalar* W, const Scalar* b, KernelIndex k,
            Scalar* Z) {
  if (block.row_major) return linear_scores_of_rows(block, W, b, k, Z);
  // Z^T = W X^T: Z row-major is Z^T column-major, W (k x d row-major) is W^T column-major.
  const Eigen::Map<const RowMajorMatrix<Scalar>> weights(W, k, block.cols);
  Eigen::Map<Eigen::Matrix<Scalar, Dynamic, Dynamic>> out_t(Z, k, block.rows);
  with_block(block, [&](const auto& X) { out_t.noalias() = weights * X.transpose(); });
  if (b) out_t.colwise() += Eigen::Map<const Eigen::Matrix<Scalar, Dynamic, 1>>(b, k);
}

template <typename Scalar>
void add_transposed_product(const DenseBlock<Scalar>& block, const Scalar* R, KernelIndex k,
                            Scalar* scratch, double* G) {
  const Eigen::Map<const RowMajorMatrix<Scalar>> residuals(R, block.rows, k);
  Eigen::Map<Eigen::MatrixXd> gradient(G, block.cols, k);
  with_block(block, [&](const auto& X) {
    if constexpr (std::is_same_v<Scalar, double>) {
      gradient.noalias() += X.transpose() * residuals;
    } else {
      Eigen::Map<RowMajorMatrix<Scalar>> product(scratch, block.cols, k);
      product.noalias() = X.transpose() * residuals;
      gradient += product.template cast<double>();
    }
  });
}

// out[i] = f(in[i]) for the vectorised exp or log (in and out may be the same). The values go
// through an aligned, padded tile so that every one takes the same vectorised path: with Eigen
// working on the buffer in place, the values before its first aligned address would take the
// scalar path, and the results would depend on where the buffer lies in memory.
enum class Function { Exp, Log };
template <Function f, typename Scalar>
void apply(const Scalar* in, Scalar* out, KernelIndex size) {
  constexpr KernelIndex kTile = 256;  // a multiple of every packet size
  alignas(64) Scalar tile[kTile];
  for (KernelIndex start = 0; start < size; start += kTile) {
    const KernelIndex n = size - start < kTile ? size - start : kTile;
    const KernelIndex padded = (n + 15) / 16 * 16;
    for (KernelIndex j = 0; j < n; ++j) tile[j] = in[start + j];
    for (KernelIndex j = n; j < padded; ++j) tile[j] = Scalar(1);
    Eigen::Map<Column<Scalar>, Eigen::Aligned64> values(tile, padded);
    if constexpr (f == Function::Exp) {
      values = values.exp();
    } else {
      values = values.log();
    }
    for (KernelIndex j = 0; j < n; ++j) out[start + j] = tile[j];
  }
}

// Row-wise loops below are plain sequential code, which the compiler does not reorder, so
// every sum is added up in the same order whatever the alignment of the data.

template <typename Scalar>
double softmax_loss(Scalar* Z, KernelIndex rows, KernelIndex k, const int* labels,
                    const double* weights, Scalar* P) {
  Column<Scalar> picked(rows), sums(rows), log_sums(rows);
  for (KernelIndex i = 0; i < rows; ++i) {
    Scalar* z = Z + i * k;
    const Scalar max = max_of(z, k);
    for (KernelIndex j = 0; j < k; ++j) z[j] -= max;
    picked[i] = z[labels[i]];  // z[label] - max
  }
  apply<Function::Exp>(Z, Z, rows * k);
  for (KernelIndex i = 0; i < rows; ++i) {
    const Scalar* e = Z + i * k;
    Scalar sum = e[0];
    for (KernelIndex j = 1; j < k; ++j) sum += e[j];
    sums[i] = sum;
  }
  apply<Function::Log>(sums.data(), log_sums.data(), rows);
  double loss = 0.0;
  for (KernelIndex i = 0; i < rows; ++i) {
    const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
    loss += (weights ? weights[i] : 1.0) *
            (static_cast<double>(log_sums[i]) - static_cast<double>(picked[i]));
    Scalar* r = Z + i * k;
    if (P) {
      Scalar* p = P + i * k;
      for (KernelIndex j = 0; j < k; ++j) p[j] = r[j] / sums[i];
    }
    const Scalar scale = weight / sums[i];
    for (KernelIndex j = 0; j < k; ++j) r[j] *= scale;
    r[labels[i]] -= weight;
  }
  return loss;
}

template <typename Scalar>
double binary_loss(Scalar* z, KernelIndex rows, const int* labels, int positive_class,
                   const double* weights, Scalar* curvature) {
  // With margin m = t z (t = +1 for the positive class, else -1) and e = exp(-|m|):
  // loss = log(1 + exp(-m)) = max(-m, 0) + log(1 + e), derivative in z = -t sigmoid(-m).
  Column<Scalar> e(rows), log_u(rows);
  for (KernelIndex i = 0; i < rows; ++i) e[i] = z[i] < 0 ? z[i] : -z[i];  // -|z| = -|m|
  apply<Function::Exp>(e.data(), e.data(), rows);
  for (KernelIndex i = 0; i < rows; ++i) log_u[i] = Scalar(1) + e[i];
  apply<Function::Log>(log_u.data(), log_u.data(), rows);
  double loss = 0.0;
  for (KernelIndex i = 0; i < rows; ++i) {
    const Scalar t = labels[i] == positive_class ? Scalar(1) : Scalar(-1);
    const Scalar margin = t * z[i];
    const Scalar u = Scalar(1) + e[i];
    // log(1 + e) to full precision: the correction removes the rounding of 1 + e.
    const Scalar log1p_e = log_u[i] - ((u - Scalar(1)) - e[i]) / u;
    const Scalar row_loss = (margin < 0 ? -margin : Scalar(0)) + log1p_e;
    const Scalar sigmoid_of_minus_margin = margin >= 0 ? e[i] / u : Scalar(1) / u;
    if (curvature) {
      // sigmoid(|z|) sigmoid(-|z|) = (1 / u) (e / u), free of cancellation.
      const Scalar row_curvature = e[i] / (u * u);
      curvature[i] = weights ? row_curvature * static_cast<Scalar>(weights[i]) : row_curvature;
    }
    if (weights) {
      loss += weights[i] * static_cast<double>(row_loss);
      z[i] = -t * sigmoid_of_minus_margin * static_cast<Scalar>(weights[i]);
    } else {
      loss += static_cast<double>(row_loss);
      z[i] = -t * sigmoid_of_minus_margin;
    }
  }
  return loss;
}

template <typename Scalar>
void softmax_curvature(const Scalar* P, const double* weights, Scalar* U, KernelIndex rows,
                       KernelIndex k) {
  for (KernelIndex i = 0; i < rows; ++i) {
    const Scalar* p = P + i * k;
    Scalar* u = U + i * k;
    Scalar mean = p[0] * u[0];  // p . u, the mean of u under p
    for (KernelIndex j = 1; j < k; ++j) mean += p[j] * u[j];
    const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
    for (KernelIndex j = 0; j < k; ++j) u[j] = weight * p[j] * (u[j] - mean);
  }
}

template <typename Scalar>
void add_weighted_grams(const DenseBlock<Scalar>& block, const Scalar* D, KernelIndex n_weights,
                        bool with_ones, double* G) {
  using Matrix = Eigen::Matrix<Scalar, Dynamic, Dynamic>;
  const KernelIndex rows = block.rows, d = block.cols, m = with_ones ? d + 1 : d;
  // [X 1] copied once into our own buffer: how Eigen splits a product into vector packets may
  // depend on the address of its operands, which are then always aligned alike.
  Matrix A(rows, m);
  with_block(block, [&](const auto& X) { A.leftCols(d) = X; });
  if (with_ones) A.col(d).setOnes();
  Matrix scaled(rows, m), product(m, m);
  for (KernelIndex j = 0; j < n_weights; ++j) {
    const Eigen::Map<const Column<Scalar>> weights(D + j * rows, rows);
    bool nonnegative = true, nonpositive = true;
    for (KernelIndex i = 0; i < rows; ++i) {
      nonnegative = nonnegative && weights[i] >= Scalar(0);
      nonpositive = nonpositive && weights[i] <= Scalar(0);
    }
    if (nonnegative || nonpositive) {
      // Weights of one sign s (always, for logistic losses): A^T diag(D) A = s B^T B with
      // B = diag(sqrt|D|) A, a symmetric rank update at half the cost of a general product.
      const Column<Scalar> roots = weights.abs().sqrt();
      scaled = roots.matrix().asDiagonal() * A;
      product.setZero();
      product.template selfadjointView<Eigen::Lower>().rankUpdate(
          scaled.transpose(), nonnegative ? Scalar(1) : Scalar(-1));
      const Matrix lower = product;
      product.template triangularView<Eigen::StrictlyUpper>() = lower.transpose();
    } else {
      scaled = weights.matrix().asDiagonal() * A;
      product.noalias() = scaled.transpose() * A;
    }
    Eigen::Map<Eigen::MatrixXd>(G + j * m * m, m, m) += product.template cast<double>();
  }
}

template <typename Scalar>
void softmax(Scalar* Z, KernelIndex rows, KernelIndex k) {
  for (KernelIndex i = 0; i < rows; ++i) {
    Scalar* z = Z + i * k;
    const Scalar max = max_of(z, k);
    for (KernelIndex j = 0; j < k; ++j) z[j] -= max;
  }
  apply<Function::Exp>(Z, Z, rows * k);
  for (KernelIndex i = 0; i < rows; ++i) {
    Scalar* p = Z + i * k;
    Scalar sum = p[0];
    for (KernelIndex j = 1; j < k; ++j) sum += p[j];
    for (KernelIndex j = 0; j < k; ++j) p[j] /= sum;
  }
}

template <typename Scalar>
bool all_finite(const DenseBlock<Scalar>& block) {
  bool finite = false;
  with_block(block, [&](const auto& X) { finite = X.allFinite(); });
  return finite;
}

template <typename Scalar>
void sigmoid(Scalar* z, KernelIndex size) {
  for (KernelIndex i = 0; i < size; ++i) z[i] = -z[i];
  // exp(-z) overflows to infinity for very negative z, which gives the right limit 0.
  apply<Function::Exp>(z, z, size);
  for (KernelIndex i = 0; i < size; ++i) z[i] = Scalar(1) / (Scalar(1) + z[i]);
}

}  // namespace

template <typename Scalar>
const KernelTable<Scalar>& kernel_table() {
  static const KernelTable<Scalar> table{
      MULTILOGIT_STRINGIFY(MULTILOGIT_ISA),
      &linear_scores<Scalar>,
      &add_transposed_product<Scalar>,
      &softmax_loss<Scalar>,
      &binary_loss<Scalar>,
      &softmax_curvature<Scalar>,
      &add_weighted_grams<Scalar>,
      &softmax<Scalar>,
      &all_finite<Scalar>,
      &sigmoid<Scalar>,
  };
  return table;
}

template const KernelTable<float>& kernel_table<float>();
template const KernelTable<double>& kernel_table<double>();

}  // namespace multilogit::detail::MULTILOGIT_ISA
