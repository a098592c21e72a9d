// Threaded passes over the rows of X for linear units z = W x + b, which the losses build on.
//
// A product pass computes, for each cache-sized chunk of rows, the units' scores, lets the loss
// turn them into residuals (adding up the chunk's losses), and adds [X_chunk 1]^T R to the
// gradient-like partial sums while the chunk is hot. A Gram pass adds up the weighted Gram
// matrices [X 1]^T diag(D_j) [X 1] of second derivatives.
//
// Rows are split into a fixed number of slabs that depends only on the data's shape and on what
// the caller declares at construction; each slab accumulates its own partial sums and the slabs
// are added in order, so every result is bitwise identical for any number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include "kernels/kernels.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

// Number of slabs: enough for parallelism, capped so that their partial sums (per_slab_bytes
// each) stay within `budget` bytes.
inline Index slab_count(Index n_chunks, Index per_slab_bytes, Index budget = Index(16) << 20) {
  const Index max_slabs = 16;
  const Index memory_cap = std::max<Index>(2, budget / std::max<Index>(per_slab_bytes, 1));
  return std::max<Index>(1, std::min({n_chunks, max_slabs, memory_cap}));
}

// Makes a Hessian's diagonal fit to divide by in Jacobi preconditioning: parameters without
// curvature (a feature that is zero on all rows, probabilities rounded to 0 or 1) are raised to
// a small share of the largest entry, or all entries to 1 if none is positive.
inline void floor_jacobi_diagonal(Eigen::VectorXd& diagonal) {
  constexpr double kRelativeFloor = 1e-12;
  const double largest = diagonal.maxCoeff();
  if (largest > 0.0) {
    diagonal = diagonal.cwiseMax(kRelativeFloor * largest);
  } else {
    diagonal.setOnes();
  }
}

// M^-1 r for Jacobi preconditioning of units [W (d x n_units, column-major), b (n_units, or
// none)] in the coordinates (w, b + c.w), which centre the features at c (empty: at 0), with
// `diagonal` the Hessian's diagonal in those coordinates (same layout). M = L^T diag L for that
// change of coordinates L, so M^-1 r = L^-1 diag^-1 L^-T r. Uncentred features (pixels of -1,
// counts) make the plain diagonal a poor guide: their curvature is mostly the intercept's.
inline void apply_jacobi(const Eigen::VectorXd& diagonal, const Eigen::VectorXd& centre, Index d,
                         int n_units, const Eigen::VectorXd& residual,
                         Eigen::VectorXd& preconditioned) {
  preconditioned = residual.cwiseQuotient(diagonal);
  if (centre.size() == 0) return;
  const Eigen::Map<const Eigen::MatrixXd> R_W(residual.data(), d, n_units);
  const auto r_b = residual.tail(n_units);
  const Eigen::Map<const Eigen::MatrixXd> D_W(diagonal.data(), d, n_units);
  Eigen::Map<Eigen::MatrixXd> Z_W(preconditioned.data(), d, n_units);
  Z_W = (R_W - centre * r_b.transpose()).cwiseQuotient(D_W);
  preconditioned.tail(n_units) -= Z_W.transpose() * centre;
}

// Takes out of v (units laid out as apply_jacobi's) the shift of every unit's weights by their
// mean and, with intercepts, of every intercept by theirs; returns the weights' mean.
inline Eigen::VectorXd remove_unit_shifts(Eigen::VectorXd& v, Index d, int n_units) {
  Eigen::Map<Eigen::MatrixXd> W(v.data(), d, n_units);
  Eigen::VectorXd shift = W.rowwise().mean();
  W.colwise() -= shift;
  if (v.size() > d * n_units) v.tail(n_units).array() -= v.tail(n_units).mean();
  return shift;
}

// apply_jacobi for units whose loss is blind to the same shift of every unit's scores (softmax).
// H maps a shift of all units' weights by one vector to the penalty's l2 times itself, and a
// shift of all intercepts to 0: there M^-1 divides by `shift_curvature` (l2, or what stands for
// it in a transformed diagonal; 0: drops the weights' shift too, as it drops the intercepts'),
// elsewhere it is the units' own. Jacobi alone would mix such shifts in, which the solver would
// then have to take out again. `room` is scratch space; `residual` may be `preconditioned`.
inline void apply_shift_invariant_jacobi(const Eigen::VectorXd& diagonal,
                                         const Eigen::VectorXd& centre, Index d, int n_units,
                                         double shift_curvature, const Eigen::VectorXd& residual,
                                         Eigen::VectorXd& preconditioned, Eigen::VectorXd& room) {
  room = residual;
  const Eigen::VectorXd shift = remove_unit_shifts(room, d, n_units);
  apply_jacobi(diagonal, centre, d, n_units, room, preconditioned);
  remove_unit_shifts(preconditioned, d, n_units);
  if (shift_curvature > 0.0) {
    Eigen::Map<Eigen::MatrixXd>(preconditioned.data(), d, n_units).colwise() +=
        shift / shift_curvature;
  }
}

// The square root of the Hessian's diagonal in the coordinates centred at `centre` (see
// apply_jacobi) for units [W (d x n_units), b (n_units, or none)] where every row's curvature for
// unit k is curvatures[k] times its weight: the diagonal of the L-BFGS H0s below.
inline Eigen::VectorXd lbfgs_jacobi_diagonal(const Eigen::VectorXd& squares,
                                             const Eigen::VectorXd& centre, double S, double l2,
                                             bool fit_intercept,
                                             const Eigen::VectorXd& curvatures) {
  const Index d = squares.size();
  const auto n_units = static_cast<int>(curvatures.size());
  // sum s (x - m)^2 = sum s x^2 - S m^2, kept from rounding below 0
  Eigen::VectorXd spread = squares;
  if (centre.size()) spread -= S * centre.cwiseAbs2();
  spread = spread.cwiseMax(0.0) / S;
  Eigen::VectorXd diagonal(d * n_units + (fit_intercept ? n_units : 0));
  for (int k = 0; k < n_units; ++k) {
    diagonal.segment(k * d, d) = (curvatures[k] * spread).array() + l2;
    if (fit_intercept) diagonal[d * n_units + k] = curvatures[k];
  }
  floor_jacobi_diagonal(diagonal);
  return diagonal.cwiseSqrt();
}

// L-BFGS's initial inverse Hessian H0 (LbfgsSettings::initial_inverse_hessian) for a binary
// problem [w (d), b (or none)]: apply_jacobi's preconditioning in the coordinates centred at
// `centre`, with the square root of the Hessian's diagonal at w = 0, where every row's curvature
// is a quarter of its weight. `squares` holds sum_i s_i x_i^2 over the problem's rows, `centre`
// their weighted mean (empty: uncentred, as without an intercept), S their weight sum, l2 the
// penalty's weight.
//
// Centring alone decouples the intercept from uncentred features. The diagonal at w = 0 is exact
// at the start but overweights the features that separate the classes, whose curvature falls as
// the fit goes on; its square root keeps most of its gain on badly scaled features without that
// loss. Iterations to within 1e-6 of the optimum (benchmarks/bench_fit.py's measure), plain /
// centred / centred Jacobi / centred square root: usps ovo 61 / 36 / 69 / 36, usps ovr 96 / 64 /
// 77 / 64, synthetic ovo 44 / 40 / 44 / 25, synthetic ovr 30 / 29 / 10 / 18, letter ovr 31 / 26
// / 21 / 23; on make_classification sets with features scaled and shifted at random, 93-400 /
// 67-400 / 24-67 / 50-133; unscaled ones' ovo cost more, 33 instead of 28 and 34 instead of 33.
// Standardised digits' ovr took 34 with each; with the square root, the pairs solved one by one
// took 20 instead of 25 on digits and 16 instead of 22 on letter.
inline std::function<void(Eigen::VectorXd&)> binary_lbfgs_initial_inverse_hessian(
    const Eigen::VectorXd& squares, Eigen::VectorXd centre, double S, double l2,
    bool fit_intercept) {
  const Index d = squares.size();
  Eigen::VectorXd diagonal = lbfgs_jacobi_diagonal(squares, centre, S, l2, fit_intercept,
                                                   Eigen::VectorXd::Constant(1, 0.25));
  return [diagonal = std::move(diagonal), centre = std::move(centre), d](Eigen::VectorXd& q) {
    const Eigen::VectorXd r = q;
    apply_jacobi(diagonal, centre, d, 1, r, q);
  };
}

// The same for softmax's units (apply_shift_invariant_jacobi), with the Hessian's diagonal at
// the start, where every row has the same probabilities `start` (the class shares at the
// constant predictor's intercepts, 1 / K without intercepts): unit k's curvature is
// start_k (1 - start_k). Along the weights' common shift, where only the penalty curves, H0
// takes the square root of l2 as it does of the diagonal. Iterations to within 1e-6 of the
// optimum (bench_solvers.py), identity / this H0: digits 53 / 51, letter 88 / 46, usps 471 /
// 176; with the diagonal itself instead of its square root 50, 53, 238; with one curvature for
// all units 50, 50, 190.
inline std::function<void(Eigen::VectorXd&)> softmax_lbfgs_initial_inverse_hessian(
    const Eigen::VectorXd& squares, Eigen::VectorXd centre, double S, double l2,
    bool fit_intercept, const Eigen::VectorXd& start) {
  const Index d = squares.size();
  const auto n_units = static_cast<int>(start.size());
  const Eigen::VectorXd curvatures = start.array() * (1.0 - start.array());
  Eigen::VectorXd diagonal =
      lbfgs_jacobi_diagonal(squares, centre, S, l2, fit_intercept, curvatures);
  return [diagonal = std::move(diagonal), centre = std::move(centre), d, n_units,
          shift_curvature = std::sqrt(l2), room = Eigen::VectorXd()](Eigen::VectorXd& q) mutable {
    apply_shift_invariant_jacobi(diagonal, centre, d, n_units, shift_curvature, q, q, room);
  };
}

// The intercepts of the best constant predictor: with W = 0, the optimum of the intercepts
// (which are not penalised), from the weight of each unit's class (`class_weights`) and of all
// rows (S). A binary unit's is the log-odds log(S+ / (S - S+)) of its positive class; softmax's
// (`shift_invariant`) log S_k less their mean: its intercepts are only defined up to a common
// shift, and solvers keep their sum where it starts, which is 0 from a zero start too. Zeros
// when a class or its rest has no weight.
inline Eigen::VectorXd constant_predictor_intercepts(const Eigen::VectorXd& class_weights,
                                                     double S, bool shift_invariant) {
  const Eigen::ArrayXd rest = S - class_weights.array();
  if (!(class_weights.minCoeff() > 0.0) || (!shift_invariant && !(rest.minCoeff() > 0.0))) {
    return Eigen::VectorXd::Zero(class_weights.size());
  }
  if (shift_invariant) {
    const Eigen::ArrayXd logs = class_weights.array().log();
    return (logs - logs.mean()).matrix();
  }
  return (class_weights.array() / rest).log().matrix();
}

template <typename Matrix>
class LinearPasses {
 public:
  using Scalar = typename Matrix::Scalar;
  static constexpr bool kSparse = RowSet<Matrix>::kSparse;
  // Unit weights W in Scalar, laid out for the chunk products: features x units for sparse
  // rows, which read and scatter to a feature's weights for all units; units x features for
  // the dense kernels.
  using Coef = RowMatrix<Scalar>;

  // labels[source_row] is the class index of each row of X and weights[source_row] its weight
  // (null: all ones). pool may be null (single thread). Product passes use slabs sized for
  // partial sums of `partial_sum_bytes` each.
  LinearPasses(RowSet<Matrix> rows, const int* labels, const double* weights, bool fit_intercept,
               ThreadPool* pool, Index partial_sum_bytes)
      : rows_(rows),
        labels_(labels),
        weights_(weights),
        fit_intercept_(fit_intercept),
        pool_(pool),
        chunk_(rows.chunk_rows()) {
    product_chunks_per_slab_ = chunks_per_slab(partial_sum_bytes, Index(16) << 20);
    product_slabs_.resize(static_cast<size_t>(slabs_of(product_chunks_per_slab_)));
    weight_sum_ = static_cast<double>(rows_.size());
    if (weights_) {
      weight_sum_ = 0.0;
      for (Index i = 0; i < rows_.size(); ++i) weight_sum_ += weights_[rows_.source_row(i)];
    }
  }

  Index n_rows() const { return rows_.size(); }
  Index n_features() const { return rows_.n_features(); }
  bool fit_intercept() const { return fit_intercept_; }
  double weight_sum() const { return weight_sum_; }  // S, the sum of the rows' weights

  // The rows' weight per class: entry c sums s_i over the rows labelled c < n_classes.
  Eigen::VectorXd class_weight_sums(int n_classes) const {
    Eigen::VectorXd sums = Eigen::VectorXd::Zero(n_classes);
    for (Index i = 0; i < rows_.size(); ++i) {
      const Index row = rows_.source_row(i);
      const int label = labels_[row];
      if (label >= 0 && label < n_classes) sums[label] += weights_ ? weights_[row] : 1.0;
    }
    return sums;
  }
  const KernelTable<Scalar>& kernels() const { return kernels_; }

  // Side of a Gram matrix of [X 1] (of X without intercept).
  Index gram_size() const { return n_features() + (fit_intercept_ ? 1 : 0); }

  // Slabs of chunks_per_slab(...) chunks each: about slab_count slabs of `per_slab_bytes` of
  // partial sums each fit in `budget`.
  Index chunks_per_slab(Index per_slab_bytes, Index budget) const {
    const Index n_slabs = slab_count(n_chunks(), per_slab_bytes, budget);
    return std::max<Index>(1, (n_chunks() + n_slabs - 1) / n_slabs);
  }

  // Sizes coef and intercept for n_units units, all zero.
  void clear_units(int n_units, Coef& coef, Vector<Scalar>& intercept) const {
    if constexpr (kSparse) {
      coef.setZero(n_features(), n_units);
    } else {
      coef.setZero(n_units, n_features());
    }
    intercept.setZero(n_units);
  }

  // Sets unit `unit` of coef and intercept from its weights (n_features() values) and bias.
  void set_unit(int unit, const double* unit_weights, double bias, Coef& coef,
                Vector<Scalar>& intercept) const {
    const Eigen::Map<const Eigen::VectorXd> w(unit_weights, n_features());
    if constexpr (kSparse) {
      coef.col(unit) = w.cast<Scalar>();
    } else {
      coef.row(unit) = w.transpose().cast<Scalar>();
    }
    intercept[unit] = fit_intercept_ ? static_cast<Scalar>(bias) : Scalar(0);
  }

  // What a product pass hands its transform for each chunk of rows.
  struct Chunk {
    Index first, count;     // rows [first, first + count) of the set
    const int* labels;      // theirs
    const double* weights;  // theirs, null for all ones
    Scalar* Z;              // count x n_units, row-major: their scores, to transform in place
    double* losses;         // n_losses sums of the slab, to add the chunk's losses to
    // With Scoring::ByTransform, the chunk's dense rows, which the transform scores itself
    // (Z then holds nothing on entry, and is room for the derivatives, or null where the fused
    // kernels need none: see kMinTileUnits), adding [X_chunk 1]^T Z to `sums` for the
    // derivatives Z; else null.
    const DenseBlock<Scalar>* X;
    ProductSums<Scalar> sums;
  };

  // Who computes a product pass's scores and products: the pass, or (for dense X) the
  // transform, which can then take each row's loss while its scores are in registers' reach and
  // sum the products while its rows are in cache. This is what a caller asks for, Chunk::X what a
  // chunk gets: the pass scores sparse rows either way, so a transform that can score tests
  // chunk.X.
  enum class Scoring { ByPass, ByTransform };

  // One product pass with the n_units units (coef, intercept): for each chunk of rows, its
  // scores go through transform(Chunk&), which turns them into the derivatives (or products)
  // to sum and adds the chunk's losses, and then into [X_chunk 1]^T Z.
  // Read the sums with summed_losses() and summed_products().
  template <class Transform>
  void product_pass(const Coef& coef, const Vector<Scalar>& intercept, int n_units, int n_losses,
                    Transform&& transform, Scoring scoring = Scoring::ByPass) {
    // Row tiles read each row once whatever the chunk, and keep their scores themselves: they
    // take a slab's rows in one call, which saves the set-up of a call per chunk.
    bool in_row_tiles = false;
    if constexpr (!kSparse) {
      in_row_tiles =
          scoring == Scoring::ByTransform && Matrix::IsRowMajor && n_units >= kMinTileUnits;
    }
    run_slabs(static_cast<Index>(product_slabs_.size()), [&](Index s) {
      ProductSlab& slab = product_slabs_[static_cast<size_t>(s)];
      slab.losses.setZero(n_losses);
      slab.partial_W.setZero(n_features(), n_units);
      slab.partial_b.setZero(n_units);
      for_each_chunk(s, product_chunks_per_slab_, slab.gathered,
                     [&](Index first, Index count, const auto& X_chunk) {
        const int* labels = chunk_values(labels_, first, count, slab.labels);
        const double* weights =
            weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
        // Scores, then residuals in their place, then the products, while the chunk is hot.
        if (!in_row_tiles) slab.residuals.resize(count, n_units);
        const DenseBlock<Scalar>* dense_rows = nullptr;
        if constexpr (!kSparse) {
          if (scoring == Scoring::ByTransform) dense_rows = &X_chunk;
        }
        if (!dense_rows) scores(X_chunk, coef, intercept, n_units, slab.residuals);
        slab.chunk_grad.resize(n_features(), n_units);
        const ProductSums<Scalar> sums{slab.partial_W.data(),
                                       fit_intercept_ ? slab.partial_b.data() : nullptr,
                                       slab.chunk_grad.data()};
        Chunk chunk{first, count, labels, weights, in_row_tiles ? nullptr : slab.residuals.data(),
                    slab.losses.data(), dense_rows, sums};
        transform(chunk);
        if (!dense_rows) add_transposed_product(X_chunk, n_units, slab);
      }, in_row_tiles);
    });
  }

  // One pass adding [Y 1]^T D to the product sums (read with summed_products()), with Y the
  // squares of X - 1 c^T for the centre c (n_features() values; null, and always for sparse X:
  // 0), or X itself unless `squared`, and
  //   fill(first, count, weights, D)
  // writing the weights D (count x n_units, row-major) of the chunk's rows: column k of the
  // squared result is the diagonal of the Gram matrix [X - 1 c^T 1]^T diag(D_k) [X - 1 c^T 1],
  // at the cost of a product.
  template <class Fill>
  void weighted_moment_pass(int n_units, bool squared, const double* centre, Fill&& fill) {
    run_slabs(static_cast<Index>(product_slabs_.size()), [&](Index s) {
      ProductSlab& slab = product_slabs_[static_cast<size_t>(s)];
      slab.losses.resize(0);
      slab.partial_W.setZero(n_features(), n_units);
      slab.partial_b.setZero(n_units);
      for_each_chunk(s, product_chunks_per_slab_, slab.gathered,
                     [&](Index first, Index count, const auto& X_chunk) {
        const double* weights =
            weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
        slab.residuals.resize(count, n_units);
        fill(first, count, weights, slab.residuals.data());
        slab.chunk_grad.resize(n_features(), n_units);
        if (!squared) {
          add_transposed_product(X_chunk, n_units, slab);
        } else if constexpr (kSparse) {
          add_transposed_product(X_chunk.cwiseAbs2(), n_units, slab);
        } else {
          square_rows(X_chunk, centre, slab.squared);
          add_transposed_product(dense_block(slab.squared), n_units, slab);
        }
      });
    });
  }

  // The rows' weighted column sums sum_i s_i x_i (column 0) and sums of squares
  // sum_i s_i x_i^2 (column 1), from one pass over X.
  Eigen::MatrixXd column_moments() {
    run_slabs(static_cast<Index>(product_slabs_.size()), [&](Index s) {
      ProductSlab& slab = product_slabs_[static_cast<size_t>(s)];
      slab.losses.resize(0);
      slab.partial_W.setZero(n_features(), 2);
      slab.partial_b.setZero(2);
      for_each_chunk(s, product_chunks_per_slab_, slab.gathered,
                     [&](Index first, Index count, const auto& X_chunk) {
        const double* weights =
            weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
        if constexpr (kSparse) {
          const Vector<Scalar> w =
              weights ? Vector<Scalar>(Eigen::Map<const Eigen::VectorXd>(weights, count)
                                           .template cast<Scalar>())
                      : Vector<Scalar>::Ones(count);
          slab.partial_W.col(0) += (X_chunk.transpose() * w).template cast<double>();
          slab.partial_W.col(1) += (X_chunk.cwiseAbs2().transpose() * w).template cast<double>();
        } else {
          kernels_.add_column_moments(X_chunk, weights, slab.partial_W.col(0).data(),
                                      slab.partial_W.col(1).data());
        }
      });
    });
    Eigen::MatrixXd moments(n_features(), 2);
    Eigen::VectorXd no_intercept(2);
    summed_products(moments, no_intercept);
    return moments;
  }

  // The rows' weighted column means: sum_i s_i x_i / S.
  Eigen::VectorXd column_means() { return column_moments().col(0) / weight_sum_; }

  // The last product pass's losses, its slabs' shares added in order.
  Eigen::VectorXd summed_losses() const {
    Eigen::VectorXd losses = Eigen::VectorXd::Zero(product_slabs_.front().losses.size());
    for (const ProductSlab& slab : product_slabs_) losses += slab.losses;
    return losses;
  }

  // The last product pass's [X 1]^T R: W (n_features() x n_units) and b (n_units; zero without
  // intercept), its slabs' shares added in order.
  void summed_products(Eigen::Ref<Eigen::MatrixXd> W, Eigen::Ref<Eigen::VectorXd> b) const {
    W.setZero();
    b.setZero();
    for (const ProductSlab& slab : product_slabs_) {
      W += slab.partial_W;
      b += slab.partial_b;
    }
  }

  // sum_i [x_i 1]^T D_j(i) [x_i 1] for j < n_weights, side by side (gram_size() x
  // (gram_size() n_weights), column-major), over slabs of `per_slab` chunks each, with
  //   fill(first, count, weights, D)
  // writing the weights D (count x n_weights, column-major) of the chunk's rows.
  template <class Fill>
  Eigen::MatrixXd gram_pass(Index n_weights, Index per_slab, Fill&& fill) {
    const Index m = gram_size();
    gram_slabs_.resize(static_cast<size_t>(slabs_of(per_slab)));
    run_slabs(static_cast<Index>(gram_slabs_.size()), [&](Index s) {
      GramSlab& slab = gram_slabs_[static_cast<size_t>(s)];
      slab.grams.setZero(m, m * n_weights);
      for_each_chunk(s, per_slab, slab.gathered, [&](Index first, Index count, const auto& X_chunk) {
        const double* weights =
            weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
        slab.chunk_weights.resize(count, n_weights);
        fill(first, count, weights, slab.chunk_weights.data());
        if constexpr (kSparse) {
          for (Index j = 0; j < n_weights; ++j) {
            add_sparse_gram(X_chunk, slab.chunk_weights.col(j), slab.grams.data() + j * m * m);
          }
        } else {
          slab.scratch.resize(gram_scratch_size(X_chunk.rows, X_chunk.cols));
          kernels_.add_weighted_grams(X_chunk, slab.chunk_weights.data(), n_weights,
                                      fit_intercept_, slab.scratch.data(), slab.grams.data());
        }
      });
    });
    Eigen::MatrixXd grams = Eigen::MatrixXd::Zero(m, m * n_weights);
    for (const GramSlab& slab : gram_slabs_) grams += slab.grams;
    return grams;
  }

 private:
  struct ProductSlab {
    Eigen::VectorXd losses;
    Eigen::MatrixXd partial_W;  // the slab's share of [X 1]^T R
    Eigen::VectorXd partial_b;
    typename RowSet<Matrix>::Scratch gathered;
    std::vector<int> labels;
    std::vector<double> weights;
    RowMatrix<Scalar> residuals;  // the chunk's scores, then what the loss makes of them
    RowMatrix<Scalar> chunk_grad;
    RowMatrix<Scalar> squared;  // a chunk's squared values, for weighted_moment_pass
  };

  struct GramSlab {
    Eigen::MatrixXd grams;
    typename RowSet<Matrix>::Scratch gathered;
    std::vector<double> weights;
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> chunk_weights;
    Vector<Scalar> scratch;
  };

  Index n_chunks() const { return (rows_.size() + chunk_ - 1) / chunk_; }

  Index slabs_of(Index per_slab) const {
    return std::max<Index>(1, (n_chunks() + per_slab - 1) / per_slab);
  }

  void run_slabs(Index n_slabs, const std::function<void(Index)>& task) {
    if (pool_) {
      pool_->run(n_slabs, task);
    } else {
      for (Index s = 0; s < n_slabs; ++s) task(s);
    }
  }

  // Calls use(first, count, X_chunk) for the chunks of slab s (of per_slab chunks) in order.
  // With whole_slab, the slab's rows are one chunk.
  template <typename Use>
  void for_each_chunk(Index s, Index per_slab, typename RowSet<Matrix>::Scratch& gathered,
                      Use&& use, bool whole_slab = false) const {
    const Index begin = s * per_slab * chunk_;
    const Index end = std::min(rows_.size(), begin + per_slab * chunk_);
    const Index step = whole_slab ? end - begin : chunk_;
    for (Index first = begin; first < end; first += step) {
      const Index count = std::min(step, end - first);
      rows_.visit(first, count, gathered,
                  [&](const auto& X_chunk) { use(first, count, X_chunk); }, end);
    }
  }

  // Z = X_chunk W^T + 1 b^T.
  template <typename Chunk>
  void scores(const Chunk& X_chunk, const Coef& coef, const Vector<Scalar>& intercept,
              int n_units, RowMatrix<Scalar>& Z) const {
    if constexpr (kSparse) {
      Z.noalias() = X_chunk * coef;
      if (fit_intercept_) Z.rowwise() += intercept.transpose();
    } else {
      kernels_.linear_scores(X_chunk, coef.data(),
                             fit_intercept_ ? intercept.data() : nullptr, n_units, Z.data());
    }
  }

  // The slab's partial sums += [X_chunk 1]^T R, R its residuals.
  template <typename Chunk>
  void add_transposed_product(const Chunk& X_chunk, int n_units, ProductSlab& slab) const {
    if constexpr (kSparse) {
      slab.chunk_grad.noalias() = X_chunk.transpose() * slab.residuals;
      slab.partial_W += slab.chunk_grad.template cast<double>();
      if (fit_intercept_) {
        slab.partial_b += slab.residuals.colwise().sum().transpose().template cast<double>();
      }
    } else {
      kernels_.add_transposed_product(X_chunk, slab.residuals.data(), n_units,
                                      slab.chunk_grad.data(), slab.partial_W.data(),
                                      fit_intercept_ ? slab.partial_b.data() : nullptr);
    }
  }

  // squared = (the block's values - centre)^2, the centre (one value per column) null for 0,
  // in one pass over the block.
  static void square_rows(const DenseBlock<Scalar>& X, const double* centre,
                          RowMatrix<Scalar>& squared) {
    using RowArray = Eigen::Array<Scalar, 1, Eigen::Dynamic>;
    squared.resize(X.rows, X.cols);
    const RowArray c = centre ? RowArray(Eigen::Map<const Eigen::ArrayXd>(centre, X.cols)
                                             .transpose()
                                             .template cast<Scalar>())
                              : RowArray::Zero(X.cols);
    if (X.row_major) {
      for (Index r = 0; r < X.rows; ++r) {
        squared.row(r) = (Eigen::Map<const RowArray>(X.row(r), X.cols) - c).square().matrix();
      }
    } else {
      using Block = Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
      const Eigen::Map<const Block, 0, Eigen::OuterStride<>> block(
          X.data, X.rows, X.cols, Eigen::OuterStride<>(X.outer_stride));
      squared = (block.rowwise() - c).square().matrix();
    }
  }

  // G (gram_size() square, column-major) += [X_chunk 1]^T diag(D) [X_chunk 1] for sparse X.
  template <typename Chunk, typename Weights>
  void add_sparse_gram(const Chunk& X_chunk, const Weights& D, double* G) const {
    const Index d = n_features();
    Eigen::Map<Eigen::MatrixXd> gram(G, gram_size(), gram_size());
    const Eigen::SparseMatrix<Scalar> weighted = D.asDiagonal() * X_chunk;
    const Eigen::SparseMatrix<Scalar> product = X_chunk.transpose() * weighted;
    gram.topLeftCorner(d, d) +=
        Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>(product).template cast<double>();
    if (fit_intercept_) {
      const Vector<Scalar> column_sums = X_chunk.transpose() * D;
      gram.block(d, 0, 1, d) += column_sums.transpose().template cast<double>();
      gram.block(0, d, d, 1) += column_sums.template cast<double>();
      gram(d, d) += static_cast<double>(D.sum());
    }
  }

  // values[source_row] for rows [first, first + count) of the set: in place for all rows of X,
  // else gathered into `buffer`.
  template <typename T>
  const T* chunk_values(const T* values, Index first, Index count, std::vector<T>& buffer) const {
    if (rows_.is_all_rows()) return values + first;
    buffer.resize(static_cast<size_t>(count));
    for (Index r = 0; r < count; ++r) buffer[static_cast<size_t>(r)] = values[rows_.source_row(first + r)];
    return buffer.data();
  }

  RowSet<Matrix> rows_;
  const int* labels_;
  const double* weights_;
  bool fit_intercept_;
  ThreadPool* pool_;
  const KernelTable<Scalar>& kernels_ = detail::kernels<Scalar>();
  Index chunk_;
  Index product_chunks_per_slab_ = 1;
  double weight_sum_ = 0.0;
  std::vector<ProductSlab> product_slabs_;
  std::vector<GramSlab> gram_slabs_;
};

}  // namespace multilogit::detail
