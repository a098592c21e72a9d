// One instruction set's build of the kernels (kernels.hpp).
//
// The build compiles this file once per instruction set, with that set's compiler flags,
// -DMULTILOGIT_ISA=<name> and -DEigen=multilogit_eigen_<name>. Renaming Eigen's namespace gives
// every Eigen template instantiated here (the matrix products above all) a symbol of its own:
// otherwise the linker would keep one of the identically named copies compiled for different
// instruction sets, and could run AVX-512 code on a CPU without it. Everything else here lives
// in namespace multilogit::detail::<name> for the same reason.
#include <cstdint>
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
// Into L1, or with `to_l2` into L2 only.
inline void prefetch(const void* begin, KernelIndex bytes, bool to_l2 = false) {
#if defined(__GNUC__)
  constexpr KernelIndex kLine = 64;
  const char* first = static_cast<const char*>(begin);
  for (KernelIndex offset = 0; offset < bytes; offset += kLine) {
    if (to_l2) {
      __builtin_prefetch(first + offset, 0, 2);
    } else {
      __builtin_prefetch(first + offset);
    }
  }
#else
  (void)begin;
  (void)bytes;
  (void)to_l2;
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
    for (KernelIndex j = 0; j < kLinesPerStep && next_ < end_; ++j, next_ += kLine) {
#if defined(__GNUC__)
      __builtin_prefetch(next_, 0, 2);  // into L2: the block it serves is read from there
#endif
    }
  }

 private:
  static constexpr KernelIndex kLine = 64;
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  static constexpr KernelIndex kLinesPerStep = 2;
};

// Row i of X, or past X's last row, of the rows a pass streams next (DenseBlock::ahead), or
// null if the block names none that far.
template <typename Scalar>
const Scalar* row_or_ahead(const DenseBlock<Scalar>& X, KernelIndex i) {
  if (i < X.rows) return X.row(i);
  const KernelIndex offset = (i - X.rows) * X.outer_stride;
  if (!X.ahead || !X.row_major ||
      (offset + X.cols) * KernelIndex(sizeof(Scalar)) > X.ahead_bytes) {
    return nullptr;
  }
  return static_cast<const Scalar*>(X.ahead) + offset;
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

template <typename Packet>
constexpr KernelIndex packet_size = Eigen::internal::unpacket_traits<Packet>::size;

// Registers the tiles may fill (Eigen's count for the instruction set).
constexpr int kRegisters = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;

// Row tiles: the fused passes over row-major X.
//
// A tile holds kRows rows with the rows across the lanes of packets: each unit's scores of the
// tile fill whole packets whatever the number of units, and what the losses do with them (a
// softmax across the units, binary losses) is arithmetic between packets, with no work across
// lanes. The scores come from the tile's rows transposed once in cache, one broadcast weight
// times a packet of rows at a time; the products X^T R read the rows as they lie, one broadcast
// residual times a packet of features at a time. Units across the lanes instead would leave
// lanes idle unless the units fill whole packets (10 units fill 10 of 16).

template <typename Packet>
struct TileShape {
  static constexpr int kLanes = static_cast<int>(packet_size<Packet>);
  // Row packets per tile: with 16 registers, two, so that each broadcast weight (an instruction
  // of its own there) serves two multiply-adds.
  static constexpr int kPackets = kRegisters >= 32 || kLanes == 1 ? 1 : 2;
  static constexpr int kRows = kLanes * kPackets;
  // Units scored per pass over the transposed rows: accumulators of kPackets packets each beside
  // the loaded rows and a broadcast in registers.
  static constexpr int kScoreUnits = kRegisters >= 32 ? 16 : 12 / kPackets;
  // Feature packets of each unit's product sums in registers: with 16 registers, two, so that
  // each broadcast residual serves two multiply-adds, as each broadcast weight does above (one
  // broadcast per multiply-add held the product to half the multiply-add rate on AVX2).
  static constexpr int kProductPackets = kPackets;
  // Rows of the product held in registers at once, beside the units' sums.
  static constexpr int kProductRows =
      kProductPackets > 1 ? 2 : kRows < kRegisters / 4 ? kRows : kRegisters / 4;
  // Units whose product sums stay in registers beside those rows and a broadcast, at most 16.
  static constexpr int kProductRoom = (kRegisters - 1) / kProductPackets - kProductRows;
  static constexpr int kProductUnits = kProductRoom < 16 ? kProductRoom : 16;
};

// The scores of one tile, as the fused kernels hand them to their tile actions: unit u's
// scores of rows first .. first + kRows - 1 of the block at scores + u * kRows, aligned. Only
// the first `rows` rows are rows of the block; the others (a last, short tile) are padding,
// scored from rows of zeros, and cleared before any product.
template <typename Scalar>
struct RowTile {
  KernelIndex first;
  int rows;
  Scalar* scores;
};

// values[first + r] of a tile's rows as kRows lanes, `pad` in the padding lanes.
template <int kRows, typename Value, typename Lane, typename Scalar>
void rows_to_lanes(const Value* values, const RowTile<Scalar>& tile, Lane pad, Lane* lanes) {
  for (int r = 0; r < kRows; ++r) {
    lanes[r] = r < tile.rows ? static_cast<Lane>(values[tile.first + r]) : pad;
  }
}

// xt (count x kRows, row j holding feature first + j of the tile's rows) from the rows
// x[0 .. kRows).
template <typename Packet, typename Scalar>
void transpose_tile(const Scalar* const* x, KernelIndex first, KernelIndex count, Scalar* xt) {
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  KernelIndex whole = 0;
  if constexpr (kLanes > 1) {
    whole = count / kLanes * kLanes;
    Eigen::internal::PacketBlock<Packet, kLanes> block;
    for (int p = 0; p < Shape::kPackets; ++p) {
      for (KernelIndex j = 0; j < whole; j += kLanes) {
        for (int r = 0; r < kLanes; ++r) {
          block.packet[r] = Eigen::internal::ploadu<Packet>(x[p * kLanes + r] + first + j);
        }
        Eigen::internal::ptranspose(block);
        for (int c = 0; c < kLanes; ++c) {
          Eigen::internal::pstore(xt + (j + c) * kRows + p * kLanes, block.packet[c]);
        }
      }
    }
  }
  for (KernelIndex j = whole; j < count; ++j) {
    for (int r = 0; r < kRows; ++r) xt[j * kRows + r] = x[r][first + j];
  }
}

// Asks for the lines of some rows to be brought into L2, one line per step(), row after row in
// address order. A tile's scoring steps once per feature, which spreads the requests for a tile
// a few tiles on over the arithmetic: at the tile widths of AVX2 and AVX-512 (64 bytes of each
// feature) a tile's rows span one line per feature, give or take a line per row. Asked for in
// bursts, or in the order the transposition reads them, the rows kept the arithmetic waiting on
// main memory for a fifth of its time.
template <int kMaxRows>
class RowLines {
 public:
  // The `count` rows (1 to kMaxRows) of `bytes` each.
  template <typename Scalar>
  void start(const Scalar* const* rows, int count, KernelIndex bytes) {
    for (int r = 0; r < count; ++r) rows_[r] = reinterpret_cast<const char*>(rows[r]);
    row_ = 0;
    count_ = count;
    bytes_ = bytes;
    stride_ = kLine;
    next_row();
  }
  // Once every line was asked for, steps ask for the last one again, so that a step needs no
  // test of its own for that.
  void step() {
    prefetch(next_, 1, true);
    next_ += stride_;
    if (next_ >= end_) next_row();
  }
  // Asks for the lines no step has reached.
  void finish() {
    while (stride_ != 0) step();
  }

 private:
  static constexpr KernelIndex kLine = 64;
  void next_row() {
    if (row_ == count_) {
      next_ -= kLine;  // the last line of the last row
      stride_ = 0;
      end_ = next_ + 1;
      return;
    }
    const char* row = rows_[row_++];
    next_ = row - reinterpret_cast<std::uintptr_t>(row) % kLine;
    end_ = row + bytes_;
  }
  const char* rows_[kMaxRows];
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  int row_ = 0, count_ = 0;
  KernelIndex bytes_ = 0, stride_ = 0;
};

// Independent sums per unit and row packet, so that enough multiply-adds are in flight.
template <typename Packet>
constexpr int score_chains(int units) {
  const int in_flight = units * TileShape<Packet>::kPackets;
  return in_flight >= 8 ? 1 : in_flight >= 4 ? 2 : 4;
}

// T (kUnits x kRows) += the tile's scores for kUnits units on d features: xt (see
// transpose_tile) times the units' weights Wt (d x units, row stride wt_stride); unless `add`,
// T = those plus b (null: 0) instead. Unless null, `lines` steps once per feature.
template <int kUnits, typename Packet, typename Scalar>
void score_tile(const Scalar* xt, KernelIndex d, const Scalar* Wt, KernelIndex wt_stride,
                const Scalar* b, bool add, Scalar* T, RowLines<TileShape<Packet>::kRows>* lines) {
  using namespace Eigen::internal;
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kPackets = Shape::kPackets, kRows = Shape::kRows;
  constexpr int kChains = score_chains<Packet>(kUnits);
  Packet sums[kChains][kUnits][kPackets];
  for (int u = 0; u < kUnits; ++u) {
    for (int p = 0; p < kPackets; ++p) {
      sums[0][u][p] = add ? pload<Packet>(T + u * kRows + p * kLanes)
                          : pset1<Packet>(b ? b[u] : Scalar(0));
      for (int c = 1; c < kChains; ++c) sums[c][u][p] = pset1<Packet>(Scalar(0));
    }
  }
  const auto add_feature = [&](KernelIndex j, int c) {
    Packet values[kPackets];
    for (int p = 0; p < kPackets; ++p) values[p] = pload<Packet>(xt + j * kRows + p * kLanes);
    const Scalar* w = Wt + j * wt_stride;
    if (lines) lines->step();
    for (int u = 0; u < kUnits; ++u) {
      const Packet weight = pset1<Packet>(w[u]);
      for (int p = 0; p < kPackets; ++p) sums[c][u][p] = pmadd(values[p], weight, sums[c][u][p]);
    }
  };
  KernelIndex j = 0;
  for (; j + kChains <= d; j += kChains) {
    for (int c = 0; c < kChains; ++c) add_feature(j + c, c);
  }
  for (; j < d; ++j) add_feature(j, 0);
  for (int u = 0; u < kUnits; ++u) {
    for (int p = 0; p < kPackets; ++p) {
      for (int c = 1; c < kChains; ++c) sums[0][u][p] = padd(sums[0][u][p], sums[c][u][p]);
      pstore(T + u * kRows + p * kLanes, sums[0][u][p]);
    }
  }
}

// score_tile for run-time units <= kUnits.
template <int kUnits, typename Packet, typename Scalar>
void score_tile_up_to(int units, const Scalar* xt, KernelIndex d, const Scalar* Wt,
                      KernelIndex wt_stride, const Scalar* b, bool add, Scalar* T,
                      RowLines<TileShape<Packet>::kRows>* lines) {
  if constexpr (kUnits > 1) {
    if (units < kUnits) {
      return score_tile_up_to<kUnits - 1, Packet>(units, xt, d, Wt, wt_stride, b, add, T, lines);
    }
  }
  score_tile<kUnits, Packet>(xt, d, Wt, wt_stride, b, add, T, lines);
}

// Independent sums per unit of a tile product, as many as keep about 8 multiply-adds in flight
// within `budget` registers.
constexpr int product_chains(int units, int budget) {
  const int chains = units >= 8 ? 1 : 8 / units;
  return chains * units <= budget ? chains : budget / units;
}

// G (kUnits x d, row-major) += D^T X_tile over features [first, d): D holds the tile's values of
// each unit (kRows apart), x the tile's rows. Each kPackets packets of features are loaded once,
// kProductRows rows at a time, for all the units, whose sums stay in registers across the tile's
// rows; the last features go a packet at a time, then in narrower packets.
template <typename Shape, int kUnits, int kPackets, typename FeaturePacket, typename Scalar>
void add_tile_product_units(const Scalar* const* x, KernelIndex first, KernelIndex d,
                            const Scalar* D, Scalar* G) {
  using namespace Eigen::internal;
  constexpr int kRows = Shape::kRows, kProductRows = Shape::kProductRows;
  constexpr KernelIndex kWidth = packet_size<FeaturePacket>, kStep = kWidth * kPackets;
  constexpr int kChains =
      product_chains(kUnits * kPackets, kRegisters - kProductRows * kPackets - 1);
  KernelIndex j = first;
  for (; j + kStep <= d; j += kStep) {
    FeaturePacket sums[kChains][kUnits][kPackets];
    for (int u = 0; u < kUnits; ++u) {
      for (int p = 0; p < kPackets; ++p) {
        sums[0][u][p] = ploadu<FeaturePacket>(G + u * d + j + p * kWidth);
        for (int c = 1; c < kChains; ++c) sums[c][u][p] = pzero(sums[0][u][p]);
      }
    }
    for (int group = 0; group < kRows; group += kProductRows) {
      FeaturePacket values[kProductRows][kPackets];
      for (int r = 0; r < kProductRows; ++r) {
        for (int p = 0; p < kPackets; ++p) {
          values[r][p] = ploadu<FeaturePacket>(x[group + r] + j + p * kWidth);
        }
      }
      for (int r = 0; r < kProductRows; ++r) {
        for (int u = 0; u < kUnits; ++u) {
          const FeaturePacket residual = pset1<FeaturePacket>(D[u * kRows + group + r]);
          for (int p = 0; p < kPackets; ++p) {
            FeaturePacket& sum = sums[(group + r) % kChains][u][p];
            sum = pmadd(residual, values[r][p], sum);
          }
        }
      }
    }
    for (int u = 0; u < kUnits; ++u) {
      for (int p = 0; p < kPackets; ++p) {
        for (int c = 1; c < kChains; ++c) sums[0][u][p] = padd(sums[0][u][p], sums[c][u][p]);
        pstoreu(G + u * d + j + p * kWidth, sums[0][u][p]);
      }
    }
  }
  if (j == d) return;
  if constexpr (kPackets > 1) {
    add_tile_product_units<Shape, kUnits, 1, FeaturePacket>(x, j, d, D, G);
  } else if constexpr (kWidth > 1) {
    using Half = typename unpacket_traits<FeaturePacket>::half;
    using Narrower = std::conditional_t<(packet_size<Half> < kWidth), Half, Scalar>;
    add_tile_product_units<Shape, kUnits, 1, Narrower>(x, j, d, D, G);
  }
}

// add_tile_product_units for run-time units <= kUnits.
template <typename Shape, int kUnits, typename Packet, typename Scalar>
void add_tile_product_up_to(int units, const Scalar* const* x, KernelIndex d, const Scalar* D,
                            Scalar* G) {
  if constexpr (kUnits > 1) {
    if (units < kUnits) {
      return add_tile_product_up_to<Shape, kUnits - 1, Packet>(units, x, d, D, G);
    }
  }
  add_tile_product_units<Shape, kUnits, Shape::kProductPackets, Packet>(x, 0, d, D, G);
}

// G (k x d, row-major) += D^T X_tile for the tile's rows x and their values D of each of the k
// units (kRows apart), in groups of equal size up to kProductUnits: 17 units go as 9 + 8, not
// as 16 + 1, whose last would wait on its own sums.
template <typename Packet, typename Scalar>
void add_tile_product(const Scalar* const* x, KernelIndex d, const Scalar* D, KernelIndex k,
                      Scalar* G) {
  using Shape = TileShape<Packet>;
  constexpr int kMaxUnits = Shape::kProductUnits;
  const KernelIndex groups = (k + kMaxUnits - 1) / kMaxUnits;
  for (KernelIndex g = 0, u = 0; g < groups; ++g) {
    const auto units = static_cast<int>((k - u + groups - g - 1) / (groups - g));
    add_tile_product_up_to<Shape, kMaxUnits, Packet>(units, x, d, D + u * Shape::kRows,
                                                     G + u * d);
    u += units;
  }
}

// What a tile action makes of a row's scores across the units.
enum class Shift {
  // It depends on each of them.
  Matters,
  // It is blind to adding the same number to all of them, and what it leaves in their place sums
  // to zero (a softmax's residuals, its Hessian applied to them). Then one reference unit's
  // weights may be subtracted from every unit's: its scores become 0, and its product with the
  // rows minus the sum of the others'. k - 1 units are scored and multiplied, 1/k of the
  // arithmetic saved.
  Ignored,
};

// The reference unit for Shift::Ignored: the one of least weight (sum of |w| and |b|), so that
// every unit's weights shifted by it stay within twice its own, and so does their rounding. None
// (k) when a weight or intercept is beyond half of Scalar's range: a difference of two could
// overflow where the scores do not.
template <typename Scalar>
KernelIndex reference_unit(const Scalar* W, const Scalar* b, KernelIndex k, KernelIndex d) {
  constexpr double kHalfRange =
      std::is_same_v<Scalar, float> ? 0x1.fffffep126 : 0x1.fffffffffffffp1022;
  const auto magnitude = [](Scalar v) { return static_cast<double>(v < 0 ? -v : v); };
  KernelIndex reference = 0;
  double least = 0.0;
  for (KernelIndex u = 0; u < k; ++u) {
    double weight = b ? magnitude(b[u]) : 0.0;
    if (weight > kHalfRange) return k;
    for (KernelIndex j = 0; j < d; ++j) {
      if (magnitude(W[u * d + j]) > kHalfRange) return k;
      weight += magnitude(W[u * d + j]);
    }
    if (u == 0 || weight < least) {
      reference = u;
      least = weight;
    }
  }
  return reference;
}

// Scores row-major X tile by tile for the k units (W, b as for linear_scores) and hands each
// tile to action(RowTile&). Unless `sums` is null, what the action leaves in the tile's scores
// is then multiplied by the tile's rows and added to sums as add_transposed_product adds X^T R.
// With Shift::Ignored the action takes the scores less those of the reference unit.
template <typename Packet, typename Scalar, typename Action>
void for_each_row_tile(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                       KernelIndex k, Shift shift, Action&& action,
                       const ProductSums<Scalar>* sums = nullptr) {
  using Shape = TileShape<Packet>;
  constexpr int kRows = Shape::kRows;
  const KernelIndex d = X.cols;
  // Slots 0 .. scored - 1 of a tile's scores are scored and multiplied. With a reference unit,
  // they hold every other unit's, the last unit's in the reference's slot; it goes to its own
  // slot for the action, and back for the product.
  const KernelIndex reference = shift == Shift::Ignored && k > 1 ? reference_unit(W, b, k, d) : k;
  const bool shifted = reference < k;
  const KernelIndex scored = shifted ? k - 1 : k;
  const bool moves_last = reference < k - 1;
  const auto unit_in_slot = [&](KernelIndex slot) { return slot == reference ? k - 1 : slot; };
  const auto move_slot = [&](Column<Scalar>& tile, KernelIndex from, KernelIndex to) {
    tile.segment(to * kRows, kRows) = tile.segment(from * kRows, kRows);
  };
  // The weights transposed, each feature's for all slots contiguous.
  Column<Scalar> Wt(d * scored), bias;
  for (KernelIndex s = 0; s < scored; ++s) {
    const Scalar* w = W + unit_in_slot(s) * d;
    const Scalar* base = W + reference * d;  // read only when shifted
    for (KernelIndex j = 0; j < d; ++j) Wt[j * scored + s] = shifted ? w[j] - base[j] : w[j];
  }
  if (b && shifted) {
    bias.resize(scored);
    for (KernelIndex s = 0; s < scored; ++s) bias[s] = b[unit_in_slot(s)] - b[reference];
    b = bias.data();
  }
  constexpr KernelIndex kFeatureBlock = 64;
  constexpr KernelIndex kAheadTiles = 2;  // the rows of the tile this many on are asked for
  Column<Scalar> xt(kFeatureBlock * kRows), scores(k * kRows), zeros = Column<Scalar>::Zero(d);
  // The products (scored x d, row-major, by slot: G itself for double without a reference unit)
  // and column sums, in Scalar.
  Column<Scalar> products, column_sums;
  Scalar* G = nullptr;
  if (sums) {
    if constexpr (std::is_same_v<Scalar, double>) {
      if (!shifted) G = sums->G;
    }
    if (!G) {
      products.setZero(scored * d);
      G = products.data();
    }
    column_sums.setZero(k * kRows);
  }
  const Scalar* x[kRows];
  const Scalar* ahead[kRows];
  RowLines<kRows> lines;  // of the rows `ahead`, asked for while the tile is scored
  for (KernelIndex first = 0; first < X.rows; first += kRows) {
    RowTile<Scalar> tile{first, static_cast<int>(X.rows - first < kRows ? X.rows - first : kRows),
                         scores.data()};
    for (int r = 0; r < kRows; ++r) {
      x[r] = r < tile.rows ? X.row(first + r) : zeros.data();
    }
    int ahead_rows = 0;
    while (ahead_rows < kRows) {
      const Scalar* row = row_or_ahead(X, first + kAheadTiles * kRows + ahead_rows);
      if (!row) break;
      ahead[ahead_rows++] = row;
    }
    if (ahead_rows > 0) lines.start(ahead, ahead_rows, d * KernelIndex(sizeof(Scalar)));
    // Block by block of features, so that the transposed rows stay in L1 beside the weights.
    for (KernelIndex j = 0; j < d; j += kFeatureBlock) {
      const KernelIndex count = d - j < kFeatureBlock ? d - j : kFeatureBlock;
      transpose_tile<Packet>(x, j, count, xt.data());
      for (KernelIndex s = 0; s < scored; s += Shape::kScoreUnits) {
        const int units = static_cast<int>(
            scored - s < Shape::kScoreUnits ? scored - s : Shape::kScoreUnits);
        score_tile_up_to<Shape::kScoreUnits, Packet>(units, xt.data(), count,
                                                     Wt.data() + j * scored + s, scored,
                                                     b ? b + s : nullptr, j > 0,
                                                     scores.data() + s * kRows,
                                                     s == 0 && ahead_rows > 0 ? &lines : nullptr);
      }
    }
    if (ahead_rows > 0) lines.finish();
    if (shifted) {
      if (moves_last) move_slot(scores, reference, k - 1);
      scores.segment(reference * kRows, kRows).setZero();
    }
    action(tile);
    if (!sums) continue;
    if (tile.rows < kRows) {
      for (KernelIndex u = 0; u < k; ++u) {
        for (int r = tile.rows; r < kRows; ++r) scores[u * kRows + r] = Scalar(0);
      }
    }
    column_sums += scores;
    if (moves_last) move_slot(scores, k - 1, reference);
    add_tile_product<Packet>(x, d, scores.data(), scored, G);
  }
  if (!sums) return;
  if (G == products.data()) {
    double* rest = shifted ? sums->G + reference * d : nullptr;  // minus the sum of the others'
    for (KernelIndex s = 0; s < scored; ++s) {
      double* unit = sums->G + unit_in_slot(s) * d;
      const Scalar* product = products.data() + s * d;
      for (KernelIndex j = 0; j < d; ++j) {
        const double value = static_cast<double>(product[j]);
        unit[j] += value;
        if (rest) rest[j] -= value;
      }
    }
  }
  if (sums->g) {
    for (KernelIndex u = 0; u < k; ++u) {
      sums->g[u] += static_cast<double>(column_sums.segment(u * kRows, kRows).sum());
    }
  }
}

// Z (block rows x k, row-major) from a tile's scores.
template <int kRows, typename Scalar>
void store_tile_rows(const RowTile<Scalar>& tile, KernelIndex k, Scalar* Z) {
  for (int r = 0; r < tile.rows; ++r) {
    Scalar* z = Z + (tile.first + r) * k;
    for (KernelIndex u = 0; u < k; ++u) z[u] = tile.scores[u * kRows + r];
  }
}

// Whether row tiles serve k units of X: row-major X and at least kMinTileUnits units.
template <typename Scalar>
bool row_tiles_serve(const DenseBlock<Scalar>& X, KernelIndex k) {
  return X.row_major && k >= kMinTileUnits;
}

template <typename Scalar>
void linear_scores_of_rows(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                           KernelIndex k, Scalar* Z) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  if (!row_tiles_serve(X, k)) return dot_scores_of_rows(X, W, b, k, Z);
  for_each_row_tile<Packet>(X, W, b, k, Shift::Matters, [&](const RowTile<Scalar>& tile) {
    store_tile_rows<TileShape<Packet>::kRows>(tile, k, Z);
  });
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

template <typename Scalar>
void add_column_moments(const DenseBlock<Scalar>& block, const double* weights, double* sums,
                        double* squares) {
  using RowArray = Eigen::Array<Scalar, 1, Dynamic>;
  const KernelIndex d = block.cols;
  // Summed in Scalar over the block, as the products are, then added in double.
  RowArray first = RowArray::Zero(d), second = RowArray::Zero(d);
  if (block.row_major) {
    // Row after row, each read once and in order, so the pass streams at memory speed.
    for (KernelIndex i = 0; i < block.rows; ++i) {
      const Eigen::Map<const RowArray> x(block.row(i), d);
      const Scalar w = weights ? static_cast<Scalar>(weights[i]) : Scalar(1);
      first += w * x;
      second += w * x.square();
    }
  } else {
    using Block = Eigen::Array<Scalar, Dynamic, Dynamic>;
    const Eigen::Map<const Block, 0, Eigen::OuterStride<>> X(block.data, block.rows, d,
                                                             Eigen::OuterStride<>(block.outer_stride));
    if (weights) {
      const Column<Scalar> w = Eigen::Map<const Eigen::ArrayXd>(weights, block.rows).cast<Scalar>();
      first = (X.colwise() * w).colwise().sum();
      second = (X.square().colwise() * w).colwise().sum();
    } else {
      first = X.colwise().sum();
      second = X.square().colwise().sum();
    }
  }
  for (KernelIndex j = 0; j < d; ++j) {
    sums[j] += static_cast<double>(first[j]);
    squares[j] += static_cast<double>(second[j]);
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

// The fused kernels score row-major X with enough units in row tiles (for_each_row_tile, with
// `shift`), action(RowTile&) taking each tile, and return true. Otherwise (and for column-major
// X) all rows are scored into Z, unfused() takes them from there, and unless `sums` is null a
// separate product adds X^T Z to it.
template <typename Scalar, typename Action, typename Unfused>
bool row_tiles_or_unfused(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                          KernelIndex k, Scalar* Z, Shift shift, Action&& action,
                          Unfused&& unfused, const ProductSums<Scalar>* sums = nullptr) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  if (row_tiles_serve(X, k)) {
    for_each_row_tile<Packet>(X, W, b, k, shift, action, sums);
    return true;
  }
  linear_scores(X, W, b, k, Z);
  unfused();
  if (sums) add_transposed_product(X, Z, k, sums->scratch, sums->G, sums->g);
  return false;
}

// A tile's weights (null: 1) as lanes, 0 in the padding.
template <int kRows, typename Scalar>
void weight_lanes(const double* weights, const RowTile<Scalar>& tile, Scalar* lanes) {
  if (weights) return rows_to_lanes<kRows>(weights, tile, Scalar(0), lanes);
  for (int r = 0; r < kRows; ++r) lanes[r] = r < tile.rows ? Scalar(1) : Scalar(0);
}

// Each row of a tile's scores becomes exp(z - max z), with the sums of the exponentials in
// `sums` (kRows lanes). Unless `labels` is null (lanes of class indices), `picked` receives
// z[label] - max z.
template <typename Packet, typename Scalar>
void exponentiate_tile(Scalar* T, KernelIndex k, const Scalar* labels, Scalar* picked,
                       Scalar* sums) {
  using namespace Eigen::internal;
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  for (int offset = 0; offset < kRows; offset += kLanes) {
    Scalar* z = T + offset;
    Packet top = pload<Packet>(z);
    for (KernelIndex u = 1; u < k; ++u) top = pmax(top, pload<Packet>(z + u * kRows));
    Packet label = pzero(top), chosen = pzero(top), total = pzero(top);
    if (labels) label = pload<Packet>(labels + offset);
    for (KernelIndex u = 0; u < k; ++u) {
      const Packet scores = pload<Packet>(z + u * kRows);
      if (labels) chosen = pselect(pcmp_eq(label, pset1<Packet>(Scalar(u))), scores, chosen);
      const Packet e = exp_nonpositive(psub(scores, top));
      pstore(z + u * kRows, e);
      total = padd(total, e);
    }
    pstore(sums + offset, total);
    if (labels) pstore(picked + offset, psub(chosen, top));
  }
}

// P (block rows x k, row-major) = the tile's exponentials divided by their sums.
template <typename Packet, typename Scalar>
void store_probabilities(const RowTile<Scalar>& tile, KernelIndex k, const Scalar* sums,
                         Scalar* P) {
  using namespace Eigen::internal;
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  EIGEN_ALIGN_MAX Scalar probabilities[kRows];
  Packet inverse[Shape::kPackets];
  for (int p = 0; p < Shape::kPackets; ++p) {
    inverse[p] = pdiv(pset1<Packet>(Scalar(1)), pload<Packet>(sums + p * kLanes));
  }
  for (KernelIndex u = 0; u < k; ++u) {
    for (int p = 0; p < Shape::kPackets; ++p) {
      const Scalar* e = tile.scores + u * kRows + p * kLanes;
      pstore(probabilities + p * kLanes, pmul(pload<Packet>(e), inverse[p]));
    }
    for (int r = 0; r < tile.rows; ++r) P[(tile.first + r) * k + u] = probabilities[r];
  }
}

template <typename Scalar>
double softmax_scores_loss(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                           KernelIndex k, const int* labels, const double* weights, Scalar* R,
                           Scalar* P, const ProductSums<Scalar>& sums) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  double loss = 0.0;
  EIGEN_ALIGN_MAX Scalar label_lanes[kRows], weight[kRows], picked[kRows], exp_sums[kRows];
  row_tiles_or_unfused(X, W, b, k, R, Shift::Ignored, [&](const RowTile<Scalar>& tile) {
    rows_to_lanes<kRows>(labels, tile, Scalar(0), label_lanes);
    weight_lanes<kRows>(weights, tile, weight);
    exponentiate_tile<Packet>(tile.scores, k, label_lanes, picked, exp_sums);
    if (P) store_probabilities<Packet>(tile, k, exp_sums, P);
    EIGEN_ALIGN_MAX Scalar log_sums[kRows];
    for (int p = 0; p < kRows; p += kLanes) {
      pstore(log_sums + p, plog(pload<Packet>(exp_sums + p)));
    }
    for (int r = 0; r < tile.rows; ++r) {
      loss += softmax_row_loss(weights, tile.first + r, log_sums[r], picked[r]);
    }
    // The residuals (e / sum - onehot(label)) * weight in place of the exponentials.
    for (int p = 0; p < kRows; p += kLanes) {
      const Packet w = pload<Packet>(weight + p), label = pload<Packet>(label_lanes + p);
      const Packet scale = pdiv(w, pload<Packet>(exp_sums + p));
      for (KernelIndex u = 0; u < k; ++u) {
        Scalar* r = tile.scores + u * kRows + p;
        const Packet hit = pand(pcmp_eq(label, pset1<Packet>(Scalar(u))), w);
        pstore(r, psub(pmul(pload<Packet>(r), scale), hit));
      }
    }
  }, [&] { loss = softmax_loss(R, X.rows, k, labels, weights, P); }, &sums);
  return loss;
}

template <typename Scalar>
void softmax(Scalar* Z, KernelIndex rows, KernelIndex k);

template <typename Scalar>
void softmax_scores(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b, KernelIndex k,
                    Scalar* P) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  EIGEN_ALIGN_MAX Scalar exp_sums[TileShape<Packet>::kRows];
  row_tiles_or_unfused(X, W, b, k, P, Shift::Ignored, [&](const RowTile<Scalar>& tile) {
    exponentiate_tile<Packet, Scalar>(tile.scores, k, nullptr, nullptr, exp_sums);
    store_probabilities<Packet>(tile, k, exp_sums, P);
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

// softmax_curvature of the direction's scores X V^T + 1 c^T, each tile's products taken while
// its scores are in the tile.
template <typename Scalar>
void softmax_curvature_scores(const DenseBlock<Scalar>& X, const Scalar* V, const Scalar* c,
                              KernelIndex k, const Scalar* P, const double* weights, Scalar* U,
                              const ProductSums<Scalar>& sums) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  using Shape = TileShape<Packet>;
  constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  Column<Scalar> probabilities(k * kRows);  // the tile's rows of P, as lanes
  EIGEN_ALIGN_MAX Scalar weight[kRows];
  row_tiles_or_unfused(X, V, c, k, U, Shift::Ignored, [&](const RowTile<Scalar>& tile) {
    weight_lanes<kRows>(weights, tile, weight);
    for (KernelIndex u = 0; u < k; ++u) {
      for (int r = 0; r < kRows; ++r) {
        probabilities[u * kRows + r] = r < tile.rows ? P[(tile.first + r) * k + u] : Scalar(0);
      }
    }
    for (int offset = 0; offset < kRows; offset += kLanes) {
      Scalar* z = tile.scores + offset;
      const Scalar* p = probabilities.data() + offset;
      Packet mean = pmul(pload<Packet>(p), pload<Packet>(z));  // p . z, the mean of z under p
      for (KernelIndex u = 1; u < k; ++u) {
        mean = pmadd(pload<Packet>(p + u * kRows), pload<Packet>(z + u * kRows), mean);
      }
      const Packet w = pload<Packet>(weight + offset);
      for (KernelIndex u = 0; u < k; ++u) {
        const Packet scaled = pmul(w, pload<Packet>(p + u * kRows));
        pstore(z + u * kRows, pmul(scaled, psub(pload<Packet>(z + u * kRows), mean)));
      }
    }
  }, [&] { softmax_curvature(P, weights, U, X.rows, k); }, &sums);
}

// A packet's lanes in double, as kParts packets of double: the packet itself, or the halves of a
// float packet widened (Eigen has no such cast).
template <typename Packet>
struct InDouble {
  using Wide = typename Eigen::internal::packet_traits<double>::type;
  static constexpr int kParts = 1;
  static Wide part(const Packet& p, int) { return p; }  // double packets
};
template <>
struct InDouble<float> {
  using Wide = double;
  static constexpr int kParts = 1;
  static double part(float p, int) { return static_cast<double>(p); }
};
#define MULTILOGIT_IN_DOUBLE(Packet, WidePacket, low, high, widen)                             \
  template <>                                                                               \
  struct InDouble<Eigen::internal::Packet> {                                                \
    using Wide = Eigen::internal::WidePacket;                                               \
    static constexpr int kParts = 2;                                                        \
    static Wide part(const Eigen::internal::Packet& p, int half) {                          \
      return widen(half ? high : low);                                                      \
    }                                                                                       \
  };
#if defined(__SSE2__)
MULTILOGIT_IN_DOUBLE(Packet4f, Packet2d, p, _mm_movehl_ps(p, p), _mm_cvtps_pd)
#endif
#if defined(__AVX__)
MULTILOGIT_IN_DOUBLE(Packet8f, Packet4d, _mm256_castps256_ps128(p), _mm256_extractf128_ps(p, 1), _mm256_cvtps_pd)
#endif
#if defined(__AVX512F__) && defined(__AVX512DQ__)
MULTILOGIT_IN_DOUBLE(Packet16f, Packet8d, _mm512_castps512_ps256(p), _mm512_extractf32x8_ps(p, 1), _mm512_cvtps_pd)
#endif
#undef MULTILOGIT_IN_DOUBLE

// binary_units_loss on row tiles: binary_loss's arithmetic on packets of each unit's rows. Each
// unit's loss adds up as binary_loss adds it, in double, the unweighted log(1 + e) parts as runs
// of products, though in one run per lane (the last bits differ).
template <typename Packet, typename Scalar>
class TileBinaryLosses {
 public:
  TileBinaryLosses(KernelIndex k, const BinaryUnits<Scalar>& units, const int* labels,
                   const double* weights)
      : k_(k), units_(units), labels_(labels), weights_(weights),
        sums_(Column<double>::Zero(k * kRows)), products_(Column<double>::Zero(k * kRows)) {}

  // A tile action (see for_each_row_tile): the scores become the units' derivatives or
  // curvature products.
  void operator()(const RowTile<Scalar>& tile) {
    using namespace Eigen::internal;
    rows_to_lanes<kRows>(labels_, tile, Scalar(-1), label_lanes_);
    weight_lanes<kRows>(weights_, tile, weight_);
    if (weights_) rows_to_lanes<kRows>(weights_, tile, 0.0, exact_weight_);
    for (int p = 0; p < Shape::kPackets; ++p) {
      const Packet lane = plset<Packet>(Scalar(p * kLanes));
      in_tile_[p] = pcmp_lt(lane, pset1<Packet>(Scalar(tile.rows)));
    }
    const KernelIndex row = units_.first + tile.first;  // of the curvature columns
    for (KernelIndex u = 0; u < k_; ++u) {
      Scalar* z = tile.scores + u * kRows;
      Scalar* curvature = units_.curvature[u] ? units_.curvature[u] + row : nullptr;
      if (units_.positive[u] < 0) {
        multiply_by_kept(z, curvature, tile.rows);
      } else {
        unit_losses(z, u, curvature, tile.rows);
      }
    }
    if (!weights_ && ++run_ == kRunTiles) close_run();
  }

  // Adds each loss unit's loss to losses[u].
  void add_to(double* losses) {
    if (!weights_) close_run();
    for (KernelIndex u = 0; u < k_; ++u) {
      if (units_.positive[u] >= 0) losses[u] += sums_.segment(u * kRows, kRows).sum();
    }
  }

 private:
  using Shape = TileShape<Packet>;
  using Wide = typename InDouble<Packet>::Wide;
  static constexpr int kLanes = Shape::kLanes, kRows = Shape::kRows;
  static constexpr int kWide = static_cast<int>(packet_size<Wide>);
  static constexpr int kRunTiles = 960;  // tiles per run: each lane's product below 2^960

  // z *= the kept curvature of the tile's rows, from `rows` values at `kept`.
  void multiply_by_kept(Scalar* z, const Scalar* kept, int rows) {
    using namespace Eigen::internal;
    EIGEN_ALIGN_MAX Scalar lanes[kRows];
    if (rows < kRows) {
      for (int r = 0; r < kRows; ++r) lanes[r] = r < rows ? kept[r] : Scalar(0);
      kept = lanes;
    }
    for (int p = 0; p < kRows; p += kLanes) {
      pstore(z + p, pmul(pload<Packet>(z + p), ploadu<Packet>(kept + p)));
    }
  }

  // binary_terms on the packets of the unit's scores z, t = +1 for rows of its class, and the
  // losses added to the unit's lanes in double, kept in registers on the way: a packet stored
  // and read back in other widths would stall on the store.
  void unit_losses(Scalar* z, KernelIndex u, Scalar* curvature, int rows) {
    using namespace Eigen::internal;
    const Packet one = pset1<Packet>(Scalar(1)), positive = pset1<Packet>(Scalar(units_.positive[u]));
    EIGEN_ALIGN_MAX Scalar kept[kRows];
    double* sums = sums_.data() + u * kRows;
    double* products = products_.data() + u * kRows;
    for (int p = 0; p < Shape::kPackets; ++p) {
      const int offset = p * kLanes;
      const Packet scores = pload<Packet>(z + offset), w = pload<Packet>(weight_ + offset);
      const Packet t = pselect(pcmp_eq(pload<Packet>(label_lanes_ + offset), positive), one,
                               pnegate(one));
      const Packet e = exp_nonpositive(pnegate(pabs(scores)));  // exp(-|m|)
      const Packet margin = pmul(t, scores), v = padd(one, e), inverse = pdiv(one, v);
      const Packet sigmoid_of_minus_margin =
          pselect(pcmp_le(pzero(margin), margin), pmul(e, inverse), inverse);
      // Unweighted, w is 1 but in the padding, whose scores are cleared before any product.
      const Packet residual = pmul(pnegate(t), sigmoid_of_minus_margin);
      pstore(z + offset, weights_ ? pmul(residual, w) : residual);
      if (curvature) {
        // sigmoid(|z|) sigmoid(-|z|) = (1 / v) (e / v), free of cancellation.
        Packet curvature_of_rows = pmul(pmul(e, inverse), inverse);
        if (weights_) curvature_of_rows = pmul(curvature_of_rows, w);
        if (rows == kRows) {
          pstoreu(curvature + offset, curvature_of_rows);
        } else {
          pstore(kept + offset, curvature_of_rows);
        }
      }
      // The padding rows' losses are cleared: they add nothing.
      const Packet hinge = pand(in_tile_[p], pselect(pcmp_lt(margin, pzero(margin)),
                                                     pnegate(margin), pzero(margin)));
      if (weights_) {
        // log(1 + e) to full precision: the correction removes the rounding of 1 + e.
        const Packet loss = padd(hinge, psub(plog(v), pmul(psub(psub(v, one), e), inverse)));
        for (int h = 0; h < InDouble<Packet>::kParts; ++h) {
          const int lane = offset + h * kWide;
          pstoreu(sums + lane, pmadd(ploadu<Wide>(exact_weight_ + lane),
                                     InDouble<Packet>::part(loss, h), ploadu<Wide>(sums + lane)));
        }
      } else {
        const Packet e_in_tile = pand(in_tile_[p], e);
        for (int h = 0; h < InDouble<Packet>::kParts; ++h) {
          const int lane = offset + h * kWide;
          const Wide q = ploadu<Wide>(products + lane);
          pstoreu(sums + lane, padd(ploadu<Wide>(sums + lane), InDouble<Packet>::part(hinge, h)));
          pstoreu(products + lane,
                  pmadd(InDouble<Packet>::part(e_in_tile, h), padd(pset1<Wide>(1.0), q), q));
        }
      }
    }
    if (curvature && rows < kRows) {
      for (int r = 0; r < rows; ++r) curvature[r] = kept[r];
    }
  }

  void close_run() {
    for (KernelIndex j = 0; j < k_ * kRows; ++j) sums_[j] += __builtin_log1p(products_[j]);
    products_.setZero();
    run_ = 0;
  }

  KernelIndex k_;
  BinaryUnits<Scalar> units_;
  const int* labels_;
  const double* weights_;
  EIGEN_ALIGN_MAX Scalar label_lanes_[kRows], weight_[kRows];
  EIGEN_ALIGN_MAX double exact_weight_[kRows];  // the weights in double, for the losses
  Packet in_tile_[Shape::kPackets];  // all bits set in the lanes of the tile's rows
  Column<double> sums_, products_;  // per unit and lane: losses (unweighted: hinges), products
  int run_ = 0;
};

template <typename Scalar>
void binary_units_scores_loss(const DenseBlock<Scalar>& X, const Scalar* W, const Scalar* b,
                              KernelIndex k, const BinaryUnits<Scalar>& units, const int* labels,
                              const double* weights, double* losses, Scalar* R,
                              const ProductSums<Scalar>& sums) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  TileBinaryLosses<Packet, Scalar> tile_losses(k, units, labels, weights);
  const bool tiled = row_tiles_or_unfused(
      X, W, b, k, R, Shift::Matters, [&](const RowTile<Scalar>& tile) { tile_losses(tile); },
      [&] { binary_units_loss(R, X.rows, k, units, labels, weights, losses); }, &sums);
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

// sum_j a[j] b[j], as four interleaved packet sums added up in a fixed order.
inline double dot(const double* a, const double* b, KernelIndex n) {
  using namespace Eigen::internal;
  using Packet = packet_traits<double>::type;
  constexpr KernelIndex kWidth = packet_size<Packet>, kStep = 4 * kWidth;
  Packet sums[4] = {pset1<Packet>(0.0), pset1<Packet>(0.0), pset1<Packet>(0.0), pset1<Packet>(0.0)};
  KernelIndex j = 0;
  for (; j + kStep <= n; j += kStep) {
    for (int c = 0; c < 4; ++c) {
      sums[c] = pmadd(ploadu<Packet>(a + j + c * kWidth), ploadu<Packet>(b + j + c * kWidth), sums[c]);
    }
  }
  for (; j + kWidth <= n; j += kWidth) sums[0] = pmadd(ploadu<Packet>(a + j), ploadu<Packet>(b + j), sums[0]);
  double sum = predux(padd(padd(sums[0], sums[1]), padd(sums[2], sums[3])));
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// y += a x.
inline void add_scaled(double a, const double* x, KernelIndex n, double* y) {
  using namespace Eigen::internal;
  using Packet = packet_traits<double>::type;
  constexpr KernelIndex kWidth = packet_size<Packet>;
  const Packet scale = pset1<Packet>(a);
  KernelIndex j = 0;
  for (; j + kWidth <= n; j += kWidth) pstoreu(y + j, pmadd(scale, ploadu<Packet>(x + j), ploadu<Packet>(y + j)));
  for (; j < n; ++j) y[j] += a * x[j];
}

template <typename Scalar>
void two_loop_first(const double* const* s, const double* const* y, const double* rho,
                    KernelIndex count, KernelIndex n, double* alpha, double* q) {
  for (KernelIndex i = count; i-- > 0;) {
    alpha[i] = rho[i] * dot(s[i], q, n);
    add_scaled(-alpha[i], y[i], n, q);
  }
}

template <typename Scalar>
void two_loop_second(const double* const* s, const double* const* y, const double* rho,
                     const double* alpha, KernelIndex count, KernelIndex n, double* q) {
  for (KernelIndex i = 0; i < count; ++i) {
    const double beta = rho[i] * dot(y[i], q, n);
    add_scaled(alpha[i] - beta, s[i], n, q);
  }
}

}  // namespace

template <typename Scalar>
const KernelTable<Scalar>& kernel_table() {
  static const KernelTable<Scalar> table{
      MULTILOGIT_STRINGIFY(MULTILOGIT_ISA),
      &linear_scores<Scalar>,
      &add_transposed_product<Scalar>,
      &add_column_moments<Scalar>,
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
      &two_loop_first<Scalar>,
      &two_loop_second<Scalar>,
  };
  return table;
}

template const KernelTable<float>& kernel_table<float>();
template const KernelTable<double>& kernel_table<double>();

}  // namespace multilogit::detail::MULTILOGIT_ISA
