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

// Packet types (vector types with alignment attributes) are template arguments here; GCC warns
// that the attributes are not part of the type, which is as intended.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

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

// Calls use(X) with the block as an Eigen map of its storage order (not for indexed rows).
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

// Asks for [begin, begin + bytes) to be brought into cache ahead of its use: the hardware
// prefetcher alone does not keep the arithmetic fed when X streams from main memory.
inline void prefetch(const void* begin, KernelIndex bytes) {
#if defined(__GNUC__)
  constexpr KernelIndex kLine = 64;
  const char* first = static_cast<const char*>(begin);
  for (KernelIndex offset = 0; offset < bytes; offset += kLine) __builtin_prefetch(first + offset);
#else
  (void)begin;
  (void)bytes;
#endif
}

// How far ahead of a streamed row to prefetch, in bytes of rows.
constexpr KernelIndex kPrefetchDistance = 2048;

// Brings the memory a block names as `ahead` (DenseBlock) into cache, a few lines per step(),
// spread over a loop that works from cache: main memory keeps streaming the pass's next block
// while the arithmetic runs, instead of only while rows are scored.
class Ahead {
 public:
  Ahead() = default;
  template <typename Scalar>
  explicit Ahead(const DenseBlock<Scalar>& X)
      : next_(static_cast<const char*>(X.ahead)), end_(next_ ? next_ + X.ahead_bytes : nullptr) {}

  void step() {
    constexpr KernelIndex kLine = 64, kLinesPerStep = 2;
    for (KernelIndex j = 0; j < kLinesPerStep && next_ < end_; ++j, next_ += kLine) {
#if defined(__GNUC__)
      __builtin_prefetch(next_, 0, 2);  // into L2: the block it serves is read from there
#endif
    }
  }

 private:
  const char* next_ = nullptr;
  const char* end_ = nullptr;
};

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
void dot_scores_of_rows(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                        KernelIndex k, Scalar* Z) {
  constexpr int kGroup = 8;  // units per pass over a row: enough independent sums in flight
  const KernelIndex d = X.cols, row_bytes = d * KernelIndex(sizeof(Scalar));
  const KernelIndex ahead = kPrefetchDistance / row_bytes > 1 ? kPrefetchDistance / row_bytes : 1;
  for (KernelIndex i = 0; i < X.rows; ++i) {
    const Scalar* x = X.row(i);
    Scalar* z = Z + i * k;
    if (i + ahead < X.rows) prefetch(X.row(i + ahead), row_bytes);
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

// With units across the lanes of a packet: a tile of kRows rows by kPackets packets of units
// is summed in registers, one broadcast feature value times one packet of (transposed,
// zero-padded) weights at a time. No horizontal sums, and each loaded weight packet serves
// kRows rows; the padding of the last packet is the price, so it serves k >= half a packet.

template <typename Packet>
constexpr KernelIndex packet_size = Eigen::internal::unpacket_traits<Packet>::size;

// Registers the tiles may fill (Eigen's count for the instruction set).
constexpr int kRegisters = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;

// Rows per score tile of `packets` unit packets: accumulators, weights and a broadcast in
// registers. The fewer the packets, the more rows fit.
constexpr int score_tile_rows(int packets) {
  const int fit = (kRegisters - 1 - packets) / packets;
  return fit < 8 ? fit : 8;
}

// score_tile_rows(packets) at index packets - 1, for tiles of up to 4 packets: looked up at run
// time without a division.
constexpr int kScoreTileRows[] = {score_tile_rows(1), score_tile_rows(2), score_tile_rows(3),
                                  score_tile_rows(4)};
constexpr int kMaxTileRows = kScoreTileRows[0];  // the tallest tiles, of one packet

// out (rows x kPackets packets, row stride out_stride) = x_r^T Wt (+ bias) for the tile's rows
// x_r, with Wt d x (kPackets packets) at row stride wt_stride, aligned.
template <int kRows, int kPackets, typename Packet, typename Scalar>
void score_tile(const Scalar* const* x, KernelIndex d, const Scalar* Wt, KernelIndex wt_stride,
                const Scalar* bias, Scalar* out, KernelIndex out_stride) {
  using Eigen::internal::pload;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  constexpr KernelIndex kWidth = packet_size<Packet>;
  Packet sums[kRows][kPackets];
  for (int p = 0; p < kPackets; ++p) {
    const Packet start = pload<Packet>(bias + p * kWidth);
    for (int r = 0; r < kRows; ++r) sums[r][p] = start;
  }
  for (KernelIndex j = 0; j < d; ++j) {
    Packet weights[kPackets];
    for (int p = 0; p < kPackets; ++p) weights[p] = pload<Packet>(Wt + j * wt_stride + p * kWidth);
    for (int r = 0; r < kRows; ++r) {
      const Packet value = pset1<Packet>(x[r][j]);
      for (int p = 0; p < kPackets; ++p) sums[r][p] = pmadd(value, weights[p], sums[r][p]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int p = 0; p < kPackets; ++p) {
      Eigen::internal::pstore(out + r * out_stride + p * kWidth, sums[r][p]);
    }
  }
}

// score_tile for run-time rows <= kRows and packets <= kPackets.
template <int kRows, int kPackets, typename Packet, typename Scalar>
void score_tile_up_to(int rows, int packets, const Scalar* const* x, KernelIndex d,
                      const Scalar* Wt, KernelIndex wt_stride, const Scalar* bias, Scalar* out,
                      KernelIndex out_stride) {
  if constexpr (kRows > 1) {
    if (rows < kRows) {
      return score_tile_up_to<kRows - 1, kPackets, Packet>(rows, packets, x, d, Wt, wt_stride,
                                                           bias, out, out_stride);
    }
  }
  if constexpr (kPackets > 1) {
    if (packets < kPackets) {
      return score_tile_up_to<kRows, kPackets - 1, Packet>(rows, packets, x, d, Wt, wt_stride,
                                                           bias, out, out_stride);
    }
  }
  score_tile<kRows, kPackets, Packet>(x, d, Wt, wt_stride, bias, out, out_stride);
}

// Gt (d x kPackets packets, row stride stride) += sum_r x_r D_r for the tile's rows x_r and
// their rows D_r of D (kPackets packets each, row stride stride, aligned): the score tile turned
// around. It holds the tile's D in registers and sums feature by feature into Gt, which stays in
// cache, so that it reads X only where the score tile just did. Summing into registers over all
// rows instead would read every row again from further away, once per tile of features.
template <int kRows, int kPackets, typename Packet, typename Scalar>
void product_tile(const Scalar* const* x, KernelIndex d, const Scalar* D, KernelIndex stride,
                  Scalar* Gt) {
  using Eigen::internal::pload;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  using Eigen::internal::pstore;
  constexpr KernelIndex kWidth = packet_size<Packet>;
  Packet tile[kRows][kPackets];
  for (int r = 0; r < kRows; ++r) {
    for (int p = 0; p < kPackets; ++p) tile[r][p] = pload<Packet>(D + r * stride + p * kWidth);
  }
  for (KernelIndex j = 0; j < d; ++j) {
    Scalar* g = Gt + j * stride;
    Packet sums[kPackets];
    for (int p = 0; p < kPackets; ++p) sums[p] = pload<Packet>(g + p * kWidth);
    for (int r = 0; r < kRows; ++r) {
      const Packet value = pset1<Packet>(x[r][j]);
      for (int p = 0; p < kPackets; ++p) sums[p] = pmadd(value, tile[r][p], sums[p]);
    }
    for (int p = 0; p < kPackets; ++p) pstore(g + p * kWidth, sums[p]);
  }
}

// product_tile for run-time rows <= kRows and packets <= kPackets.
template <int kRows, int kPackets, typename Packet, typename Scalar>
void product_tile_up_to(int rows, int packets, const Scalar* const* x, KernelIndex d,
                        const Scalar* D, KernelIndex stride, Scalar* Gt) {
  if constexpr (kRows > 1) {
    if (rows < kRows) {
      return product_tile_up_to<kRows - 1, kPackets, Packet>(rows, packets, x, d, D, stride, Gt);
    }
  }
  if constexpr (kPackets > 1) {
    if (packets < kPackets) {
      return product_tile_up_to<kRows, kPackets - 1, Packet>(rows, packets, x, d, D, stride, Gt);
    }
  }
  product_tile<kRows, kPackets, Packet>(x, d, D, stride, Gt);
}

// Scores every row of X tile by tile and hands each tile to finish(first, rows, z, stride) once
// done: row first + r's k scores are at z + r * stride, followed by `pad` up to a whole number of
// packets (stride values in all), aligned, in cache.
// Unless `sums` is null, what finish leaves in the tile's k columns is then multiplied by the
// tile's rows and added to sums as add_transposed_product adds X^T R.
template <typename Packet, typename Scalar, typename Finish>
void tiled_scores_of_rows(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                          KernelIndex k, Scalar pad, Finish&& finish,
                          const ProductSums<Scalar>* sums = nullptr) {
  constexpr KernelIndex kWidth = packet_size<Packet>;
  constexpr int kMaxPackets = kRegisters >= 32 ? 4 : 3;
  static_assert(kMaxPackets <= int(sizeof kScoreTileRows / sizeof kScoreTileRows[0]));
  const KernelIndex d = X.cols, n_packets = (k + kWidth - 1) / kWidth, padded = n_packets * kWidth;
  // Weights transposed (d x padded, units contiguous) and zero-padded; the intercepts padded
  // with `pad`, which the padding lanes then hold (X being finite).
  Eigen::Array<Scalar, Dynamic, 1> Wt = Eigen::Array<Scalar, Dynamic, 1>::Zero(d * padded);
  Eigen::Array<Scalar, Dynamic, 1> bias = Eigen::Array<Scalar, Dynamic, 1>::Constant(padded, pad);
  for (KernelIndex u = 0; u < k; ++u) {
    for (KernelIndex j = 0; j < d; ++j) Wt[j * padded + u] = W[u * d + j];
    bias[u] = b ? b[u] : Scalar(0);
  }
  const int rows_per_tile = kScoreTileRows[(n_packets < kMaxPackets ? n_packets : kMaxPackets) - 1];
  Eigen::Array<Scalar, Dynamic, 1> out(kMaxTileRows * padded);  // aligned by Eigen's allocator
  // The products, transposed (d x padded), and the column sums, in Scalar until the end.
  Eigen::Array<Scalar, Dynamic, 1> Gt, column_sums;
  if (sums) {
    Gt.setZero(d * padded);
    column_sums.setZero(padded);
  }
  const Scalar* x[kMaxTileRows];
  for (KernelIndex i = 0; i < X.rows; i += rows_per_tile) {
    const int rows = static_cast<int>(X.rows - i < rows_per_tile ? X.rows - i : rows_per_tile);
    for (int r = 0; r < rows; ++r) {
      x[r] = X.row(i + r);
      // The same row of the next tile.
      if (i + r + rows_per_tile < X.rows) {
        prefetch(X.row(i + r + rows_per_tile), d * KernelIndex(sizeof(Scalar)));
      }
    }
    const auto packets_from = [&](KernelIndex p) {
      return static_cast<int>(n_packets - p < kMaxPackets ? n_packets - p : kMaxPackets);
    };
    for (KernelIndex p = 0; p < n_packets; p += kMaxPackets) {
      score_tile_up_to<kMaxTileRows, kMaxPackets, Packet>(
          rows, packets_from(p), x, d, Wt.data() + p * kWidth, padded, bias.data() + p * kWidth,
          out.data() + p * kWidth, padded);
    }
    finish(i, rows, out.data(), padded);
    if (!sums) continue;
    for (KernelIndex p = 0; p < n_packets; p += kMaxPackets) {
      product_tile_up_to<kMaxTileRows, kMaxPackets, Packet>(
          rows, packets_from(p), x, d, out.data() + p * kWidth, padded, Gt.data() + p * kWidth);
    }
    if (sums->g) {
      for (int r = 0; r < rows; ++r) {
        column_sums += Eigen::Map<const Column<Scalar>>(out.data() + r * padded, padded);
      }
    }
  }
  if (!sums) return;
  for (KernelIndex u = 0; u < k; ++u) {
    double* g = sums->G + u * d;
    for (KernelIndex j = 0; j < d; ++j) g[j] += static_cast<double>(Gt[j * padded + u]);
    if (sums->g) sums->g[u] += static_cast<double>(column_sums[u]);
  }
}

// The tile action (for tiled_scores_of_rows) that hands each row of the tile to
// row_action(i, z), z holding row i's scores.
template <typename RowAction>
auto row_by_row(RowAction row_action) {
  return [row_action](KernelIndex first, int rows, auto* z, KernelIndex stride) {
    for (int r = 0; r < rows; ++r) row_action(first + r, z + r * stride);
  };
}

template <typename Packet>
struct PacketTag {
  using type = Packet;
};

// Calls tiles(PacketTag<Packet>{}) with the packet the score tiles use for k units and returns
// true; false when k is too small for tiles. They use full-width packets, the fewest per row,
// and pay once the units fill more than half of one: fewer units leave most lanes idle, and
// per-unit dot products do better.
template <typename Scalar, typename Tiles>
bool with_tile_packet(KernelIndex k, Tiles&& tiles) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  if (2 * k <= packet_size<Packet>) return false;
  tiles(PacketTag<Packet>{});
  return true;
}

template <typename Scalar>
void linear_scores_of_rows(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                           KernelIndex k, Scalar* Z) {
  const bool tiled = with_tile_packet<Scalar>(k, [&](auto tag) {
    using Packet = typename decltype(tag)::type;
    tiled_scores_of_rows<Packet>(X, W, b, k, Scalar(0),
                                 row_by_row([&](KernelIndex i, const Scalar* z) {
      for (KernelIndex u = 0; u < k; ++u) Z[i * k + u] = z[u];
    }));
  });
  if (!tiled) dot_scores_of_rows(X, W, b, k, Z);
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

// G += X^T R for row-major X, with G k x d row-major (each unit's gradient contiguous): a tile
// of kUnits units by kPackets packets of features is summed in registers over all rows, one
// broadcast residual times one packet of a row at a time. The block was just scored, so its
// rows come from cache; every tile reads its columns of them again.

// Feature packets per gradient tile of kUnits units: accumulators, a row's packets and a
// broadcast in registers.
template <int kUnits>
constexpr int kGradientTilePackets = (kRegisters - 1) / (kUnits + 1);

template <int kUnits, int kPackets, typename Packet, typename Scalar>
void gradient_tile(const DenseBlock<Scalar>& X, KernelIndex first_feature, const Scalar* R,
                   KernelIndex k, KernelIndex first_unit, Scalar* G, KernelIndex g_stride,
                   Ahead& ahead) {
  using Eigen::internal::pmadd;
  using Eigen::internal::ploadu;
  constexpr KernelIndex kWidth = packet_size<Packet>;
  Packet sums[kUnits][kPackets];
  for (int u = 0; u < kUnits; ++u) {
    for (int p = 0; p < kPackets; ++p) sums[u][p] = Eigen::internal::pset1<Packet>(Scalar(0));
  }
  for (KernelIndex i = 0; i < X.rows; ++i) {
    ahead.step();
    const Scalar* x = X.row(i) + first_feature;
    const Scalar* r = R + i * k + first_unit;
    Packet values[kPackets];
    for (int p = 0; p < kPackets; ++p) values[p] = ploadu<Packet>(x + p * kWidth);
    for (int u = 0; u < kUnits; ++u) {
      const Packet residual = Eigen::internal::pset1<Packet>(r[u]);
      for (int p = 0; p < kPackets; ++p) sums[u][p] = pmadd(residual, values[p], sums[u][p]);
    }
  }
  for (int u = 0; u < kUnits; ++u) {
    for (int p = 0; p < kPackets; ++p) {
      Scalar* g = G + (first_unit + u) * g_stride + first_feature + p * kWidth;
      Eigen::internal::pstoreu(g, Eigen::internal::padd(ploadu<Packet>(g), sums[u][p]));
    }
  }
}

// gradient_tile for run-time units <= kUnits and packets <= kPackets.
template <int kUnits, int kPackets, typename Packet, typename Scalar>
void gradient_tile_up_to(int units, int packets, const DenseBlock<Scalar>& X,
                         KernelIndex first_feature, const Scalar* R, KernelIndex k,
                         KernelIndex first_unit, Scalar* G, KernelIndex g_stride, Ahead& ahead) {
  if constexpr (kUnits > 1) {
    if (units < kUnits) {
      return gradient_tile_up_to<kUnits - 1, kPackets, Packet>(units, packets, X, first_feature,
                                                               R, k, first_unit, G, g_stride,
                                                               ahead);
    }
  }
  if constexpr (kPackets > 1) {
    if (packets < kPackets) {
      return gradient_tile_up_to<kUnits, kPackets - 1, Packet>(units, packets, X, first_feature,
                                                               R, k, first_unit, G, g_stride,
                                                               ahead);
    }
  }
  gradient_tile<kUnits, kPackets, Packet>(X, first_feature, R, k, first_unit, G, g_stride, ahead);
}

// G += X^T R for `units` <= kUnits units from first_unit and the features from first_feature:
// whole packets, then the rest with half packets, down to single values. Unit u's row of G
// starts at G + u * g_stride.
template <int kUnits, typename Packet, typename Scalar>
void add_gradient_columns(const DenseBlock<Scalar>& X, KernelIndex first_feature, const Scalar* R,
                          KernelIndex k, KernelIndex first_unit, int units, Scalar* G,
                          KernelIndex g_stride, Ahead& ahead) {
  constexpr KernelIndex kWidth = packet_size<Packet>;
  constexpr int kPackets = kGradientTilePackets<kUnits>;
  const KernelIndex n_packets = (X.cols - first_feature) / kWidth;
  for (KernelIndex p = 0; p < n_packets; p += kPackets) {
    const int packets = static_cast<int>(n_packets - p < kPackets ? n_packets - p : kPackets);
    gradient_tile_up_to<kUnits, kPackets, Packet>(units, packets, X, first_feature + p * kWidth, R,
                                                  k, first_unit, G, g_stride, ahead);
  }
  const KernelIndex rest = first_feature + n_packets * kWidth;
  if constexpr (kWidth > 1) {
    using Half = typename Eigen::internal::unpacket_traits<Packet>::half;
    if (rest < X.cols) {
      if constexpr (packet_size<Half> < kWidth) {
        add_gradient_columns<kUnits, Half>(X, rest, R, k, first_unit, units, G, g_stride, ahead);
      } else {
        add_gradient_columns<kUnits, Scalar>(X, rest, R, k, first_unit, units, G, g_stride,
                                             ahead);
      }
    }
  }
}

// Units go in groups of at most kMaxUnits, as even as possible: each group reads the block once
// more, and few units per tile leave room for more feature packets.
template <typename Scalar>
void add_transposed_product_of_rows(const DenseBlock<Scalar>& X, const Scalar* R, KernelIndex k,
                                    Scalar* G) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr KernelIndex kMaxUnits = 6;
  const KernelIndex n_groups = (k + kMaxUnits - 1) / kMaxUnits;
  const KernelIndex per_group = (k + n_groups - 1) / n_groups;
  Ahead ahead(X);
  for (KernelIndex u = 0; u < k; u += per_group) {
    const int units = static_cast<int>(k - u < per_group ? k - u : per_group);
    switch (per_group) {
      case 1: add_gradient_columns<1, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
      case 2: add_gradient_columns<2, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
      case 3: add_gradient_columns<3, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
      case 4: add_gradient_columns<4, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
      case 5: add_gradient_columns<5, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
      default: add_gradient_columns<6, Packet>(X, 0, R, k, u, units, G, X.cols, ahead); break;
    }
  }
}

template <typename Scalar>
void add_transposed_product(const DenseBlock<Scalar>& block, const Scalar* R, KernelIndex k,
                            Scalar* scratch, double* G, double* g) {
  if (g) {
    // Row after row, so the sums vectorise along the units whatever the block's storage.
    Eigen::Array<Scalar, Dynamic, 1> column_sums = Eigen::Array<Scalar, Dynamic, 1>::Zero(k);
    for (KernelIndex i = 0; i < block.rows; ++i) {
      for (KernelIndex u = 0; u < k; ++u) column_sums[u] += R[i * k + u];
    }
    for (KernelIndex u = 0; u < k; ++u) g[u] += static_cast<double>(column_sums[u]);
  }
  // float sums go through scratch (k x d) and are added to G in double.
  Scalar* sums = nullptr;
  if constexpr (std::is_same_v<Scalar, double>) {
    sums = G;
  } else {
    sums = scratch;
    for (KernelIndex j = 0; j < k * block.cols; ++j) sums[j] = Scalar(0);
  }
  if (block.row_major) {
    add_transposed_product_of_rows(block, R, k, sums);
  } else {
    const Eigen::Map<const RowMajorMatrix<Scalar>> residuals(R, block.rows, k);
    Eigen::Map<Eigen::Matrix<Scalar, Dynamic, Dynamic>> gradient(sums, block.cols, k);
    with_block(block, [&](const auto& X) { gradient.noalias() += X.transpose() * residuals; });
  }
  if constexpr (!std::is_same_v<Scalar, double>) {
    for (KernelIndex j = 0; j < k * block.cols; ++j) G[j] += static_cast<double>(sums[j]);
  }
}

// e^x in packets for the arguments the kernels take, x <= 0 (z - max z, -|m|). Eigen's pexp
// serves the whole range, with a rational function (a division) and a scaling by 2^n in four
// multiplications; on this range a polynomial and an integer addition do. x = n ln 2 + r with
// |r| <= ln(2) / 2, e^r = 1 + r + r^2 q(r), and 2^n added to the exponent bits of e^r. q is a
// weighted least-squares fit of (e^r - 1 - r) / r^2 at Chebyshev nodes, within 0.6 ulp of e^r
// in its own rounding. Below `kLowest` e^x nears the smallest normal number, and the result is
// 0 instead: a subnormal one would cost some CPUs a hundred cycles per operation. -inf gives 0
// and NaN stays NaN. Instruction sets without the integer packet operations take Eigen's pexp.

template <typename Scalar>
struct ExpConstants;
template <>
struct ExpConstants<double> {
  static constexpr double kLowest = -708.0;   // e^x normal for x >= -708.39
  static constexpr double kRound = 0x1.8p52;  // x + kRound rounds x to an integer in its low bits
  static constexpr double kLog2e = 1.4426950408889634;
  // ln 2 = kLn2High + kLn2Low, kLn2High short enough that n kLn2High is exact.
  static constexpr double kLn2High = 0.693145751953125, kLn2Low = 1.42860682030941723212e-6;
  static constexpr int kMantissaBits = 52;
  static constexpr double kQ[] = {0.50000000000000131059,  0.16666666666666476885,
                                  0.041666666666512748724, 0.0083333333334542762535,
                                  0.0013888888947707191942, 0.00019841269592707809427,
                                  2.4801489198298872013e-5, 2.7557509562993776186e-6,
                                  2.7631561530939359718e-7, 2.5024468863997297837e-8};
};
template <>
struct ExpConstants<float> {
  static constexpr float kLowest = -86.5f;  // e^x normal for x >= -87.33; n >= -125 from here
  static constexpr float kRound = 0x1.8p23f;
  static constexpr float kLog2e = 1.44269504f;
  static constexpr float kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;
  static constexpr int kMantissaBits = 23;
  static constexpr float kQ[] = {0.4999998839479986061f, 0.16666516708312464296f,
                                 0.041669566286746644898f, 0.0083691264899523089503f,
                                 0.0013750644371457242078f};
};

// ExponentBits<Packet>::scale(p, t) = p 2^n for a positive normal p and a normal result, with the
// integer n in the low bits of t's lanes: n shifted into the exponent field and added to p's bits.
template <typename Packet>
struct ExponentBits {
  static constexpr bool kAvailable = false;
};
#define MULTILOGIT_EXPONENT_BITS(Packet, cast_in, cast_out, add, shift, bits)      \
  template <>                                                                     \
  struct ExponentBits<Eigen::internal::Packet> {                                  \
    static constexpr bool kAvailable = true;                                      \
    static Eigen::internal::Packet scale(Eigen::internal::Packet p,               \
                                         Eigen::internal::Packet t) {             \
      return cast_out(add(cast_in(p), shift(cast_in(t), bits)));                  \
    }                                                                             \
  };
#if defined(__SSE2__)
MULTILOGIT_EXPONENT_BITS(Packet2d, _mm_castpd_si128, _mm_castsi128_pd, _mm_add_epi64, _mm_slli_epi64, 52)
MULTILOGIT_EXPONENT_BITS(Packet4f, _mm_castps_si128, _mm_castsi128_ps, _mm_add_epi32, _mm_slli_epi32, 23)
#endif
#if defined(__AVX2__)
MULTILOGIT_EXPONENT_BITS(Packet4d, _mm256_castpd_si256, _mm256_castsi256_pd, _mm256_add_epi64, _mm256_slli_epi64, 52)
MULTILOGIT_EXPONENT_BITS(Packet8f, _mm256_castps_si256, _mm256_castsi256_ps, _mm256_add_epi32, _mm256_slli_epi32, 23)
#endif
#if defined(__AVX512F__)
MULTILOGIT_EXPONENT_BITS(Packet8d, _mm512_castpd_si512, _mm512_castsi512_pd, _mm512_add_epi64, _mm512_slli_epi64, 52)
MULTILOGIT_EXPONENT_BITS(Packet16f, _mm512_castps_si512, _mm512_castsi512_ps, _mm512_add_epi32, _mm512_slli_epi32, 23)
#endif
#undef MULTILOGIT_EXPONENT_BITS

template <typename Packet>
Packet exp_nonpositive(const Packet& x) {
  using namespace Eigen::internal;
  if constexpr (!ExponentBits<Packet>::kAvailable) {
    return pexp(x);
  } else {
    using C = ExpConstants<typename unpacket_traits<Packet>::type>;
    const Packet round = pset1<Packet>(C::kRound);
    const Packet t = pmadd(x, pset1<Packet>(C::kLog2e), round);  // n in its low bits
    const Packet n = psub(t, round);
    Packet r = pmadd(n, pset1<Packet>(-C::kLn2High), x);
    r = pmadd(n, pset1<Packet>(-C::kLn2Low), r);
    constexpr int kLast = int(sizeof C::kQ / sizeof C::kQ[0]) - 1;
    Packet q = pset1<Packet>(C::kQ[kLast]);
    for (int j = kLast - 1; j >= 0; --j) q = pmadd(q, r, pset1<Packet>(C::kQ[j]));
    const Packet e_r = padd(pmadd(pmul(r, r), q, r), pset1<Packet>(1));
    const Packet e_x = ExponentBits<Packet>::scale(e_r, t);
    const Packet kept = pselect(pcmp_lt(x, pset1<Packet>(C::kLowest)), pzero(x), e_x);
    return pselect(pcmp_eq(x, x), kept, x);  // x != x: NaN
  }
}

// out[i] = f(in[i]) for the vectorised exp (of in[i] <= 0) or log (in and out may be the same),
// a packet at a time and the last few values in a padded packet. Each lane's result depends on
// that lane alone, so every value comes out the same wherever the buffers lie in memory.
enum class Function { Exp, Log };
template <Function f, typename Packet>
Packet apply_to_packet(const Packet& x) {
  if constexpr (f == Function::Exp) {
    return exp_nonpositive(x);
  } else {
    return Eigen::internal::plog(x);
  }
}

template <Function f, typename Scalar>
void apply(const Scalar* in, Scalar* out, KernelIndex size) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr KernelIndex kWidth = packet_size<Packet>;
  const KernelIndex whole = size / kWidth * kWidth;
  for (KernelIndex j = 0; j < whole; j += kWidth) {
    pstoreu(out + j, apply_to_packet<f>(ploadu<Packet>(in + j)));
  }
  if (whole == size) return;
  Scalar last[kWidth];
  for (KernelIndex j = 0; j < kWidth; ++j) {
    last[j] = whole + j < size ? in[whole + j] : Scalar(f == Function::Exp ? 0 : 1);
  }
  pstoreu(last, apply_to_packet<f>(ploadu<Packet>(last)));
  for (KernelIndex j = whole; j < size; ++j) out[j] = last[j - whole];
}

// Row-wise loops below are plain sequential code, which the compiler does not reorder, so
// every sum is added up in the same order whatever the alignment of the data.

// softmax_loss (scores in a block) and softmax_scores_loss (in score tiles) share what follows
// each row's exponentials and their sum, which they take differently (a vectorised exp of the
// block and sums from left to right; a row's padded packets and sums across lanes), to different
// last bits. Each keeps its own loop over the losses: whether the compiler fuses a multiply and
// an add depends on how it vectorises the loop.

// A row's probabilities p (unless null) and weighted residuals r = (p - onehot(label)) weight,
// from its exponentials e and their sum. r may be e itself.
template <typename Scalar>
void softmax_row_residuals(const Scalar* e, Scalar sum, KernelIndex k, int label, Scalar weight,
                           Scalar* p, Scalar* r) {
  if (p) {
    for (KernelIndex j = 0; j < k; ++j) p[j] = e[j] / sum;
  }
  const Scalar scale = weight / sum;
  for (KernelIndex j = 0; j < k; ++j) r[j] = e[j] * scale;
  r[label] -= weight;
}

// Row i's weighted loss, from the log of its sum of exponentials and its picked score
// z[label] - max z.
template <typename Scalar>
double softmax_row_loss(const double* weights, KernelIndex i, Scalar log_sum, Scalar picked) {
  return (weights ? weights[i] : 1.0) *
         (static_cast<double>(log_sum) - static_cast<double>(picked));
}

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
    loss += softmax_row_loss(weights, i, log_sums[i], picked[i]);
    Scalar* e = Z + i * k;  // becomes the residuals
    softmax_row_residuals(e, sums[i], k, labels[i], weight, P ? P + i * k : nullptr, e);
  }
  return loss;
}

// Softmax on the padded packets of a score tile. The padding lanes (0) are left out of the
// maximum and cleared after the exponential by a mask: an exponential driven to underflow would
// give subnormal numbers, which cost some CPUs a hundred cycles per operation.
template <typename Packet, typename Scalar>
class TileSoftmax {
 public:
  explicit TileSoftmax(KernelIndex k)
      : last_((k + kWidth - 1) / kWidth * kWidth - kWidth),
        in_last_(Eigen::internal::pcmp_lt(Eigen::internal::plset<Packet>(Scalar(0)),
                                          Eigen::internal::pset1<Packet>(Scalar(k - last_)))) {}

  // Each row z_r = z + r * stride of a score tile becomes exp(z_r - max z_r); maxima[r]
  // receives max z_r and sums[r] the sum of its k exponentials. Phase after phase over the rows:
  // a row alone is one long chain of dependent steps (a maximum across lanes, exponentials, a
  // sum across lanes), and the rows' chains can overlap only where they lie close together.
  void exponentiate(Scalar* z, int rows, KernelIndex stride, Scalar* maxima, Scalar* sums) const {
    using namespace Eigen::internal;
    for (int r = 0; r < rows; ++r) {
      const Scalar* row = z + r * stride;
      Packet top = pselect(in_last_, pload<Packet>(row + last_), pset1<Packet>(row[0]));
      for (KernelIndex p = 0; p < last_; p += kWidth) top = pmax(top, pload<Packet>(row + p));
      maxima[r] = predux_max(top);
    }
    for (int r = 0; r < rows; ++r) {
      Scalar* row = z + r * stride;
      const Packet shift = pset1<Packet>(maxima[r]);
      Packet total = pand(exp_nonpositive(psub(pload<Packet>(row + last_), shift)), in_last_);
      pstore(row + last_, total);
      for (KernelIndex p = 0; p < last_; p += kWidth) {
        const Packet e = exp_nonpositive(psub(pload<Packet>(row + p), shift));
        pstore(row + p, e);
        total = padd(total, e);
      }
      sums[r] = predux(total);
    }
  }

 private:
  static constexpr KernelIndex kWidth = packet_size<Packet>;
  KernelIndex last_;  // offset of the last packet
  Packet in_last_;    // all bits set in the lanes of the last packet that hold units
};

// The two paths of a fused kernel on the scores X W^T + 1 b^T (W, b as for linear_scores). With
// score tiles (X row-major, k suiting them), each tile of rows goes on as soon as it is scored,
// while in cache, to the tile action that tile_action_for(PacketTag<Packet>{}) makes for the
// tiles' packet (called as tiled_scores_of_rows calls finish). Else all rows are scored into Z
// and unfused() takes them from there. Unless `sums` is null, what the tile action leaves in the
// tiles (or unfused() in Z) is then multiplied by the rows and added to sums. Returns whether the
// tiles served.
template <typename Scalar, typename TileActionFor, typename Unfused>
bool tiled_or_unfused(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                      KernelIndex k, Scalar* Z, TileActionFor&& tile_action_for,
                      Unfused&& unfused, const ProductSums<Scalar>* sums = nullptr) {
  const bool tiled = X.row_major && with_tile_packet<Scalar>(k, [&](auto tag) {
    using Packet = typename decltype(tag)::type;
    tiled_scores_of_rows<Packet>(X, W, b, k, Scalar(0), tile_action_for(tag), sums);
  });
  if (!tiled) {
    linear_scores(X, W, b, k, Z);
    unfused();
    if (sums) add_transposed_product(X, Z, k, sums->scratch, sums->G, sums->g);
  }
  return tiled;
}

template <typename Scalar>
double softmax_scores_loss(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                           KernelIndex k, const int* labels, const double* weights, Scalar* R,
                           Scalar* P, const ProductSums<Scalar>& sums) {
  double loss = 0.0;
  // Tiled: each row's sum of exponentials and picked score z[label] - max z, the sums' logs
  // taken together once all rows are scored.
  Column<Scalar> log_sums, picked;
  const bool tiled = tiled_or_unfused(X, W, b, k, R, [&](auto tag) {
    using Packet = typename decltype(tag)::type;
    log_sums.resize(X.rows);
    picked.resize(X.rows);
    return [&, tile_softmax = TileSoftmax<Packet, Scalar>(k)](KernelIndex first, int rows,
                                                              Scalar* z, KernelIndex stride) {
      Scalar maxima[kMaxTileRows], exp_sums[kMaxTileRows];
      for (int r = 0; r < rows; ++r) picked[first + r] = z[r * stride + labels[first + r]];
      tile_softmax.exponentiate(z, rows, stride, maxima, exp_sums);
      for (int r = 0; r < rows; ++r) {
        const KernelIndex i = first + r;
        picked[i] -= maxima[r];
        log_sums[i] = exp_sums[r];
        const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
        Scalar* e = z + r * stride;  // becomes the residuals
        softmax_row_residuals(e, exp_sums[r], k, labels[i], weight, P ? P + i * k : nullptr, e);
      }
    };
  }, [&] { loss = softmax_loss(R, X.rows, k, labels, weights, P); }, &sums);
  if (!tiled) return loss;
  apply<Function::Log>(log_sums.data(), log_sums.data(), X.rows);
  for (KernelIndex i = 0; i < X.rows; ++i) {
    loss += softmax_row_loss(weights, i, log_sums[i], picked[i]);
  }
  return loss;
}

template <typename Scalar>
void softmax(Scalar* Z, KernelIndex rows, KernelIndex k);

template <typename Scalar>
void softmax_scores(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b, KernelIndex k,
                    Scalar* P) {
  tiled_or_unfused(X, W, b, k, P, [&](auto tag) {
    using Packet = typename decltype(tag)::type;
    return [&, tile_softmax = TileSoftmax<Packet, Scalar>(k)](KernelIndex first, int rows,
                                                              Scalar* z, KernelIndex stride) {
      Scalar maxima[kMaxTileRows], sums[kMaxTileRows];
      tile_softmax.exponentiate(z, rows, stride, maxima, sums);
      for (int r = 0; r < rows; ++r) {
        for (KernelIndex u = 0; u < k; ++u) P[(first + r) * k + u] = z[r * stride + u] / sums[r];
      }
    };
  }, [&] { softmax(P, X.rows, k); });
}

// sum_i weights[i] values[i] (weights null: 1) in float64, as four interleaved partial sums
// added up in a fixed order: it vectorises, and the order does not depend on the alignment.
template <typename Scalar>
double weighted_sum(const Scalar* values, const double* weights, KernelIndex size) {
  constexpr KernelIndex kLanes = 4;
  double partial[kLanes] = {0.0, 0.0, 0.0, 0.0};
  const KernelIndex whole = size / kLanes * kLanes;
  for (KernelIndex i = 0; i < whole; i += kLanes) {
    for (KernelIndex j = 0; j < kLanes; ++j) {
      const double value = static_cast<double>(values[i + j]);
      partial[j] += weights ? weights[i + j] * value : value;
    }
  }
  double sum = (partial[0] + partial[1]) + (partial[2] + partial[3]);
  for (KernelIndex i = whole; i < size; ++i) {
    sum += weights ? weights[i] * static_cast<double>(values[i]) : static_cast<double>(values[i]);
  }
  return sum;
}

// sum_i log(1 + e_i) for e_i in [0, 1], with one logarithm per run of up to kRun values instead
// of one per value: interleaved lanes each keep q = prod (1 + e_i) - 1 of their values, updated
// as q + e_i (1 + q), which stays as accurate as a sum of the e_i however small they are; at the
// end of a run the lanes' products are multiplied the same way and one log(1 + q) taken. A run's
// product stays below 2^kRun, far from overflow.
template <typename Scalar>
double sum_of_log1p(const Scalar* e, KernelIndex size) {
  constexpr KernelIndex kLanes = 8, kRun = 960;
  double sum = 0.0;
  for (KernelIndex start = 0; start < size; start += kRun) {
    const KernelIndex end = size - start < kRun ? size : start + kRun;
    double q[kLanes] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    KernelIndex i = start;
    for (; i + kLanes <= end; i += kLanes) {
      for (KernelIndex j = 0; j < kLanes; ++j) {
        q[j] += static_cast<double>(e[i + j]) * (1.0 + q[j]);
      }
    }
    for (; i < end; ++i) q[0] += static_cast<double>(e[i]) * (1.0 + q[0]);
    double run = q[0];
    for (KernelIndex j = 1; j < kLanes; ++j) run += q[j] * (1.0 + run);
    sum += __builtin_log1p(run);
  }
  return sum;
}

// The binary logistic loss of a score z, with margin m = t z (t = +1 for the positive class,
// else -1) and e = exp(-|m|): loss = log(1 + exp(-m)) = max(-m, 0) + log(1 + e), derivative in
// z = -t sigmoid(-m).
//
// e, and unless `logs` is null the vectorised log(1 + e), for n scores z.
template <typename Scalar>
void margin_exponentials(const Scalar* z, KernelIndex n, Scalar* e, Scalar* logs) {
  for (KernelIndex j = 0; j < n; ++j) e[j] = z[j] < 0 ? z[j] : -z[j];  // -|z| = -|m|
  apply<Function::Exp>(e, e, n);
  if (!logs) return;
  for (KernelIndex j = 0; j < n; ++j) logs[j] = Scalar(1) + e[j];
  apply<Function::Log>(logs, logs, n);
}

// What a score's loss is made of, weighted by `weight`: the derivative, the curvature (second
// derivative), the hinge max(-m, 0), and log(1 + e) from the vectorised `log_of_1_plus_e`
// (meaningful only when that was taken).
template <typename Scalar>
struct BinaryTerms {
  Scalar derivative, curvature, hinge, log1p_e;
};

template <typename Scalar>
inline BinaryTerms<Scalar> binary_terms(Scalar z, Scalar t, Scalar e, Scalar log_of_1_plus_e,
                                        Scalar weight) {
  const Scalar margin = t * z;
  const Scalar v = Scalar(1) + e, inverse = Scalar(1) / v;  // the one division
  return {-t * (margin >= 0 ? e * inverse : inverse) * weight,
          // sigmoid(|z|) sigmoid(-|z|) = (1 / v) (e / v), free of cancellation.
          e * inverse * inverse * weight,
          margin < 0 ? -margin : Scalar(0),
          // To full precision: the correction removes the rounding of 1 + e.
          log_of_1_plus_e - ((v - Scalar(1)) - e) * inverse};
}

template <typename Scalar>
double binary_loss(Scalar* z, KernelIndex rows, const int* labels, int positive_class,
                   const double* weights, Scalar* curvature) {
  // Unweighted, the log(1 + e) are added up by sum_of_log1p; weighted, each is taken.
  Column<Scalar> e(rows), losses(rows);
  margin_exponentials(z, rows, e.data(), weights ? losses.data() : nullptr);
  // Element by element, so that the loop vectorises; each row's loss (or its max(-m, 0) part)
  // goes to `losses` and they are added up below.
  for (KernelIndex i = 0; i < rows; ++i) {
    const Scalar t = labels[i] == positive_class ? Scalar(1) : Scalar(-1);
    const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
    const BinaryTerms<Scalar> terms =
        binary_terms(z[i], t, e[i], weights ? losses[i] : Scalar(1), weight);
    if (curvature) curvature[i] = terms.curvature;
    z[i] = terms.derivative;
    losses[i] = weights ? terms.hinge + terms.log1p_e : terms.hinge;
  }
  const double loss = weighted_sum(losses.data(), weights, rows);
  return weights ? loss : loss + sum_of_log1p(e.data(), rows);
}

template <typename Scalar>
void binary_units_loss(Scalar* Z, KernelIndex rows, KernelIndex k, const BinaryUnits<Scalar>& units,
                       const int* labels, const double* weights, double* losses) {
  Column<Scalar> z(rows);  // one unit's scores, contiguous for binary_loss
  for (KernelIndex u = 0; u < k; ++u) {
    for (KernelIndex i = 0; i < rows; ++i) z[i] = Z[i * k + u];
    Scalar* curvature = units.curvature[u] ? units.curvature[u] + units.first : nullptr;
    if (units.positive[u] < 0) {
      for (KernelIndex i = 0; i < rows; ++i) z[i] *= curvature[i];
    } else {
      losses[u] += binary_loss(z.data(), rows, labels, units.positive[u], weights, curvature);
    }
    for (KernelIndex i = 0; i < rows; ++i) Z[i * k + u] = z[i];
  }
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

// softmax_curvature of the direction's scores X V^T + 1 c^T, each row's product taken while
// its scores are in a score tile.
template <typename Scalar>
void softmax_curvature_scores(const DenseBlock<Scalar>& X, const Scalar* V, const Scalar* c,
                              KernelIndex k, const Scalar* P, const double* weights, Scalar* U,
                              const ProductSums<Scalar>& sums) {
  tiled_or_unfused(X, V, c, k, U, [&](auto) {
    return row_by_row([&](KernelIndex i, Scalar* z) {  // z becomes the product, in place
      const Scalar* p = P + i * k;
      Scalar mean = p[0] * z[0];  // p . z, as softmax_curvature adds it up
      for (KernelIndex j = 1; j < k; ++j) mean += p[j] * z[j];
      const Scalar weight = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
      for (KernelIndex j = 0; j < k; ++j) z[j] = weight * p[j] * (z[j] - mean);
    });
  }, [&] { softmax_curvature(P, weights, U, X.rows, k); }, &sums);
}

// binary_units_loss on score tiles, row after row as they come: binary_loss's arithmetic on each
// unit of a row. Each unit's loss adds up as binary_loss adds it, the unweighted log(1 + e)
// parts as runs of products, though in one lane per unit (the last bits differ).
template <typename Scalar>
class TileBinaryLosses {
 public:
  TileBinaryLosses(KernelIndex k, const BinaryUnits<Scalar>& units, const int* labels,
                   const double* weights)
      : k_(k), units_(units), labels_(labels), weights_(weights) {
    KernelIndex products = 0, kept = 0;
    for (KernelIndex u = 0; u < k; ++u) {
      products += units.positive[u] < 0;
      kept += units.positive[u] >= 0 && units.curvature[u];
    }
    product_units_.resize(products);
    kept_units_.resize(kept);
    products = kept = 0;
    for (KernelIndex u = 0; u < k; ++u) {
      if (units.positive[u] < 0) product_units_[products++] = u;
      if (units.positive[u] >= 0 && units.curvature[u]) kept_units_[kept++] = u;
    }
    saved_.resize(products);
  }

  // A tile action (see tiled_scores_of_rows): the scores become the units' derivatives or
  // curvature products.
  void operator()(KernelIndex first, int rows, Scalar* z, KernelIndex stride) {
    if (lanes_ != stride) set_lanes(stride);
    margin_exponentials(z, rows * stride, e_.data(), weights_ ? logs_.data() : nullptr);
    for (int r = 0; r < rows; ++r) {
      const KernelIndex i = first + r, row = units_.first + i;
      Scalar* zr = z + r * stride;
      // Products from the scores, which the loss loop overwrites in every lane.
      for (KernelIndex p = 0; p < product_units_.size(); ++p) {
        const KernelIndex u = product_units_[p];
        saved_[p] = zr[u] * units_.curvature[u][row];
      }
      if (weights_) {
        loss_lanes<true>(zr, r * stride, labels_[i], weights_[i]);
      } else {
        loss_lanes<false>(zr, r * stride, labels_[i], 1.0);
        if (++run_ == kRun) close_run();
      }
      for (KernelIndex p = 0; p < product_units_.size(); ++p) zr[product_units_[p]] = saved_[p];
      for (KernelIndex q = 0; q < kept_units_.size(); ++q) {
        const KernelIndex u = kept_units_[q];
        units_.curvature[u][row] = kept_[u];
      }
    }
  }

  // Adds each loss unit's loss to losses[u].
  void add_to(double* losses) {
    if (!weights_) close_run();
    for (KernelIndex u = 0; u < k_; ++u) {
      if (units_.positive[u] >= 0) losses[u] += sums_[u];
    }
  }

 private:
  static constexpr KernelIndex kRun = 960;  // rows per run: products below 2^kRun

  // Buffers for tiles of `lanes` values per row; the loss lanes of padding and product units
  // compute values nobody reads, so that the loop runs over whole packets without branches.
  void set_lanes(KernelIndex lanes) {
    lanes_ = lanes;
    e_.resize(kMaxTileRows * lanes);
    if (weights_) logs_.resize(kMaxTileRows * lanes);
    kept_.resize(lanes);
    row_losses_.resize(lanes);
    positive_ = Column<Scalar>::Constant(lanes, Scalar(-1));
    for (KernelIndex u = 0; u < k_; ++u) positive_[u] = static_cast<Scalar>(units_.positive[u]);
    sums_ = Column<double>::Zero(lanes);
    products_ = Column<double>::Zero(lanes);
  }

  // binary_terms on one row's lanes (its scores z, its exponentials from e_ at `offset`),
  // vectorised across the units, then each lane's loss added to its sum in double. Two loops,
  // so that the first runs in packets of Scalar: the compiler does not vectorise the terms
  // together with the sums in double. Class indices are compared in Scalar, exact below 2^24
  // classes (in float), far beyond what a model with a unit per class can hold.
  template <bool kWeighted>
  void loss_lanes(Scalar* z, KernelIndex offset, int label_index, double row_weight) {
    const Scalar label = static_cast<Scalar>(label_index);
    const Scalar weight = static_cast<Scalar>(row_weight);
    const Scalar* e_row = e_.data() + offset;
    const Scalar* log_row = kWeighted ? logs_.data() + offset : nullptr;
    const Scalar* positive = positive_.data();
    Scalar* kept = kept_.data();
    Scalar* row_losses = row_losses_.data();
    for (KernelIndex u = 0; u < lanes_; ++u) {
      const Scalar t = positive[u] == label ? Scalar(1) : Scalar(-1);
      const BinaryTerms<Scalar> terms =
          binary_terms(z[u], t, e_row[u], kWeighted ? log_row[u] : Scalar(1), weight);
      kept[u] = terms.curvature;
      z[u] = terms.derivative;
      row_losses[u] = kWeighted ? terms.hinge + terms.log1p_e : terms.hinge;
    }
    double* sums = sums_.data();
    if constexpr (kWeighted) {
      for (KernelIndex u = 0; u < lanes_; ++u) {
        sums[u] += row_weight * static_cast<double>(row_losses[u]);
      }
    } else {
      double* products = products_.data();
      for (KernelIndex u = 0; u < lanes_; ++u) {
        sums[u] += static_cast<double>(row_losses[u]);
        products[u] += static_cast<double>(e_row[u]) * (1.0 + products[u]);
      }
    }
  }

  void close_run() {
    for (KernelIndex u = 0; u < k_; ++u) sums_[u] += __builtin_log1p(products_[u]);
    products_.setZero();
    run_ = 0;
  }

  KernelIndex k_;
  BinaryUnits<Scalar> units_;
  const int* labels_;
  const double* weights_;
  Eigen::Array<KernelIndex, Dynamic, 1> product_units_, kept_units_;
  Column<Scalar> saved_;  // a row's products of the product units
  KernelIndex lanes_ = 0;
  Column<Scalar> positive_;  // per lane, the unit's positive class (-1: none)
  Column<Scalar> e_, logs_, kept_;
  Column<Scalar> row_losses_;  // a row's losses per lane (unweighted: the hinges only)
  Column<double> sums_, products_;
  KernelIndex run_ = 0;
};

template <typename Scalar>
void binary_units_scores_loss(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                              KernelIndex k, const BinaryUnits<Scalar>& units, const int* labels,
                              const double* weights, double* losses, Scalar* R,
                              const ProductSums<Scalar>& sums) {
  TileBinaryLosses<Scalar> tile_losses(k, units, labels, weights);
  const bool tiled = tiled_or_unfused(X, W, b, k, R, [&](auto) {
    return [&](KernelIndex first, int rows, Scalar* z, KernelIndex stride) {
      tile_losses(first, rows, z, stride);
    };
  }, [&] { binary_units_loss(R, X.rows, k, units, labels, weights, losses); }, &sums);
  if (tiled) tile_losses.add_to(losses);
}

// G_j += [X 1]^T diag(D_j) [X 1] for each weight column D_j: the transposed product of X and
// its rows scaled by D_j, summed by the gradient tiles with the scaled columns as units. The
// product is symmetric, so each group of units sums only the features up to its last unit, and
// that triangle is added to both halves of G_j.
template <typename Scalar>
void add_weighted_grams(const DenseBlock<Scalar>& block, const Scalar* D, KernelIndex n_weights,
                        bool with_ones, Scalar* scratch, double* G) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  using Rows = Eigen::Map<RowMajorMatrix<Scalar>>;
  constexpr int kUnits = 6;
  const KernelIndex rows = block.rows, d = block.cols, m = with_ones ? d + 1 : d;
  Rows scaled(scratch, rows, d), sums(scratch + rows * d, d, d), copy(sums.data() + d * d, rows, d);
  Eigen::Map<Column<Scalar>> column_sums(copy.data() + rows * d, d);
  // The tiles read rows: column-major X is copied to row-major once, for all the weights.
  DenseBlock<Scalar> X = block;
  if (!block.row_major) {
    with_block(block, [&](const auto& columns) { copy = columns; });
    X = DenseBlock<Scalar>{copy.data(), rows, d, d, true};
  }
  for (KernelIndex j = 0; j < n_weights; ++j) {
    const Scalar* weights = D + j * rows;
    for (KernelIndex i = 0; i < rows; ++i) {
      const Scalar* x = X.row(i);
      Scalar* s = scaled.data() + i * d;
      for (KernelIndex f = 0; f < d; ++f) s[f] = weights[i] * x[f];
    }
    sums.setZero();
    for (KernelIndex u = 0; u < d; u += kUnits) {
      const int units = static_cast<int>(d - u < kUnits ? d - u : kUnits);
      DenseBlock<Scalar> up_to_diagonal = X;
      up_to_diagonal.cols = u + units;
      Ahead nothing;
      add_gradient_columns<kUnits, Packet>(up_to_diagonal, 0, scaled.data(), d, u, units,
                                           sums.data(), d, nothing);
    }
    Eigen::Map<Eigen::MatrixXd> gram(G + j * m * m, m, m);
    for (KernelIndex u = 0; u < d; ++u) {
      for (KernelIndex f = 0; f < u; ++f) {
        const double value = static_cast<double>(sums(u, f));
        gram(u, f) += value;
        gram(f, u) += value;
      }
      gram(u, u) += static_cast<double>(sums(u, u));
    }
    if (with_ones) {
      column_sums.setZero();
      Scalar weight_sum(0);
      for (KernelIndex i = 0; i < rows; ++i) {
        column_sums += scaled.row(i).transpose().array();
        weight_sum += weights[i];
      }
      for (KernelIndex f = 0; f < d; ++f) {
        gram(d, f) += static_cast<double>(column_sums[f]);
        gram(f, d) += static_cast<double>(column_sums[f]);
      }
      gram(d, d) += static_cast<double>(weight_sum);
    }
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

// Whether none of `size` contiguous values has every exponent bit set (infinity or NaN): an OR
// over their bits, which vectorises, where Eigen's allFinite tests value after value.
template <typename Scalar>
bool all_finite_values(const Scalar* values, KernelIndex size) {
  using Bits = std::conditional_t<sizeof(Scalar) == 8, unsigned long long, unsigned int>;
  constexpr Bits kExponent = sizeof(Scalar) == 8 ? Bits(0x7ff0000000000000ull) : Bits(0x7f800000u);
  Bits non_finite = 0;
  for (KernelIndex j = 0; j < size; ++j) {
    Bits bits;
    __builtin_memcpy(&bits, values + j, sizeof bits);
    non_finite |= Bits((bits & kExponent) == kExponent);
  }
  return non_finite == 0;
}

template <typename Scalar>
bool all_finite(const DenseBlock<Scalar>& X) {
  const KernelIndex runs = X.row_major ? X.rows : X.cols, length = X.row_major ? X.cols : X.rows;
  for (KernelIndex r = 0; r < runs; ++r) {
    const Scalar* run = X.row_major ? X.row(r) : X.data + r * X.outer_stride;
    if (!all_finite_values(run, length)) return false;
  }
  return true;
}

// From e = exp(-|z|), which never overflows: 1 / (1 + e) for z >= 0, e / (1 + e) below.
template <typename Scalar>
void sigmoid(Scalar* z, KernelIndex size) {
  constexpr KernelIndex kChunk = 256;
  Scalar e[kChunk];
  for (KernelIndex start = 0; start < size; start += kChunk) {
    const KernelIndex n = size - start < kChunk ? size - start : kChunk;
    Scalar* values = z + start;
    for (KernelIndex j = 0; j < n; ++j) e[j] = values[j] < 0 ? values[j] : -values[j];
    apply<Function::Exp>(e, e, n);
    for (KernelIndex j = 0; j < n; ++j) {
      values[j] = (values[j] >= 0 ? Scalar(1) : e[j]) / (Scalar(1) + e[j]);
    }
  }
}

}  // namespace

template <typename Scalar>
const KernelTable<Scalar>& kernel_table() {
  static const KernelTable<Scalar> table{
      MULTILOGIT_STRINGIFY(MULTILOGIT_ISA),
      &linear_scores<Scalar>,
      &add_transposed_product<Scalar>,
      &softmax_loss<Scalar>,
      &softmax_scores_loss<Scalar>,
      &binary_loss<Scalar>,
      &binary_units_loss<Scalar>,
      &binary_units_scores_loss<Scalar>,
      &softmax_curvature<Scalar>,
      &softmax_curvature_scores<Scalar>,
      &add_weighted_grams<Scalar>,
      &softmax<Scalar>,
      &softmax_scores<Scalar>,
      &all_finite<Scalar>,
      &sigmoid<Scalar>,
  };
  return table;
}

template const KernelTable<float>& kernel_table<float>();
template const KernelTable<double>& kernel_table<double>();

}  // namespace multilogit::detail::MULTILOGIT_ISA
