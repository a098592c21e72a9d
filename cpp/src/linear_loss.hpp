// Regularised empirical risk of a linear model with n_units outputs:
//   f(W, b) = (1/S) sum_i s_i loss(W x_i + b, y_i) + ||W||^2 / (2 C S),   S = sum_i s_i
// evaluated in one pass over the rows: for each cache-sized chunk, the scores, the per-row loss
// and residual, and the chunk's gradient contribution are computed while the chunk is hot.
// Hessian-vector products take the same pass with the direction's scores in place of the
// scores, and the full Hessian one pass of weighted Gram matrices.
//
// Parameters are laid out as [W (d x n_units, column-major: unit k's weights contiguous), b].
// Rows are split into a fixed number of slabs that depends only on the data's shape; each slab
// accumulates its own partial sums and the slabs are added in order, so values, gradients and
// second derivatives are bitwise identical for any number of threads.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include "kernels/kernels.hpp"
#include "multilogit/objective.hpp"
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

template <typename Matrix, class Link>
class LinearLoss final : public SecondOrderObjective {
  using Scalar = typename Matrix::Scalar;
  static constexpr bool kSparse = RowSet<Matrix>::kSparse;

 public:
  // labels[source_row] is the class index of each row of X and weights[source_row] its weight
  // (null: all ones). pool may be null (single thread).
  // The penalty ||W||^2 / (2 C S) becomes, with an elastic-net l1_ratio r,
  // (1 - r) ||W||^2 / (2 C S) here plus r ||W||_1 / (C S) left to the solver (l1_penalty()).
  LinearLoss(RowSet<Matrix> rows, const int* labels, const double* weights, Link link,
             int n_units, bool fit_intercept, double C, double l1_ratio, ThreadPool* pool)
      : rows_(rows),
        labels_(labels),
        weights_(weights),
        link_(link),
        n_units_(n_units),
        fit_intercept_(fit_intercept),
        inverse_C_(1.0 / C),
        l1_ratio_(l1_ratio),
        pool_(pool),
        chunk_(rows.chunk_rows()) {
    // A float64 and a Scalar copy of the parameters per slab.
    chunks_per_slab_ = chunks_per_slab(16 * dimension(), Index(16) << 20);
    slabs_.resize(static_cast<size_t>(slabs_of(chunks_per_slab_)));
    weight_sum_ = static_cast<double>(rows_.size());
    if (weights_) {
      weight_sum_ = 0.0;
      for (Index i = 0; i < rows_.size(); ++i) weight_sum_ += weights_[rows_.source_row(i)];
    }
  }

  Index dimension() const override {
    return rows_.n_features() * n_units_ + (fit_intercept_ ? n_units_ : 0);
  }

  // Scores are computed in Scalar, so f carries Scalar's rounding.
  // Weight of |w_i| in the L1 part of the penalty, per parameter (intercepts are not penalised);
  // empty when there is no L1 part.
  Eigen::VectorXd l1_penalty() const {
    const double l1 = l1_ratio_ * inverse_C_ / weight_sum_;
    if (!(l1 > 0.0)) return {};
    Eigen::VectorXd penalty = Eigen::VectorXd::Zero(dimension());
    penalty.head(rows_.n_features() * n_units_).setConstant(l1);
    return penalty;
  }

  double relative_precision() const override { return std::numeric_limits<Scalar>::epsilon(); }

  // Whether evaluate() keeps what the second derivatives need: n_units Scalars per row, the
  // probabilities for softmax and the weighted curvature s p (1 - p) for a binary unit. It costs
  // n x n_units Scalars, as much as the scores of all rows, and saves recomputing them (an
  // exp per score) for every Hessian-vector product.
  void keep_curvature(bool keep) {
    keep_curvature_ = keep;
    curvature_.resize(keep ? rows_.size() : 0, keep ? n_units_ : 0);
  }

  double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) override {
    set_units(w, coef_, intercept_);
    run_slabs([this](Index s) { accumulate_slab(s); });

    double loss = 0.0;
    for (const Slab& slab : slabs_) loss += slab.loss;
    finish_sum(w, gradient);
    const Eigen::Map<const Eigen::MatrixXd> W(w.data(), rows_.n_features(), n_units_);
    return loss / weight_sum_ + 0.5 * l2_weight() * W.squaredNorm();
  }

  // H v at the point of the last evaluate(), which must have kept the curvature.
  void hessian_product(const Eigen::VectorXd& v, Eigen::VectorXd& product) override {
    require_curvature();
    set_units(v, direction_coef_, direction_intercept_);
    run_slabs([this](Index s) { accumulate_hessian_product_slab(s); });
    finish_sum(v, product);
  }

  // The Hessian at the point of the last evaluate(), which must have kept the curvature: one
  // weighted Gram matrix of [X 1] per pair of units k <= l (d^2 n n_units^2 / 2 operations).
  void hessian(Eigen::MatrixXd& hessian) override {
    require_curvature();
    const Index d = rows_.n_features(), m = gram_size();
    const Index n_blocks = Index(n_units_) * (n_units_ + 1) / 2;
    // The partial Hessians are larger than the partial gradients: a budget of their own.
    const Index per_slab = chunks_per_slab(8 * m * m * n_blocks, Index(64) << 20);
    hessian_slabs_.resize(static_cast<size_t>(slabs_of(per_slab)));
    run_slabs([this, per_slab](Index s) { accumulate_hessian_slab(s, per_slab); },
              static_cast<Index>(hessian_slabs_.size()));
    Eigen::MatrixXd blocks = Eigen::MatrixXd::Zero(m, m * n_blocks);
    for (const HessianSlab& slab : hessian_slabs_) blocks += slab.blocks;
    blocks /= weight_sum_;

    // Block (k, l) of [X 1]^T D_kl [X 1] holds the second derivatives in (W_k, b_k) x (W_l, b_l).
    const auto parameter = [&](int unit, Index a) { return a < d ? unit * d + a : d * n_units_ + unit; };
    hessian.setZero(dimension(), dimension());
    Index block = 0;
    for (int k = 0; k < n_units_; ++k) {
      for (int l = k; l < n_units_; ++l, ++block) {
        for (Index c = 0; c < m; ++c) {
          for (Index a = 0; a < m; ++a) {
            const double value = blocks(a, block * m + c);
            hessian(parameter(k, a), parameter(l, c)) = value;
            hessian(parameter(l, c), parameter(k, a)) = value;
          }
        }
      }
    }
    const double l2 = l2_weight();
    hessian.diagonal().head(d * n_units_).array() += l2;
    if constexpr (Link::kShiftInvariant) {
      // f is flat along the shift of every unit's intercept by the same amount, and of every
      // unit's weights by the same vector when W is not penalised; curvature there keeps the
      // Newton system regular without changing its solution, the gradient having no component
      // along these directions.
      const double flat = std::max(hessian.diagonal().maxCoeff(), 1.0) / n_units_;
      for (int k = 0; k < n_units_; ++k) {
        for (int l = 0; l < n_units_; ++l) {
          if (fit_intercept_) hessian(parameter(k, d), parameter(l, d)) += flat;
          if (!(l2 > 0.0)) {
            for (Index a = 0; a < d; ++a) hessian(parameter(k, a), parameter(l, a)) += flat;
          }
        }
      }
    }
  }

 private:
  struct Slab {
    double loss = 0.0;
    // The slab's share of the gradient or of a Hessian-vector product (unscaled loss part).
    Eigen::MatrixXd partial_W;
    Eigen::VectorXd partial_b;
    typename RowSet<Matrix>::Scratch gathered;
    std::vector<int> labels;
    std::vector<double> weights;
    RowMatrix<Scalar> residuals;  // the chunk's scores, then the derivatives of its losses
    RowMatrix<Scalar> chunk_grad;
  };

  struct HessianSlab {
    Eigen::MatrixXd blocks;  // [X 1]^T D_kl [X 1] for the pairs k <= l, side by side
    typename RowSet<Matrix>::Scratch gathered;
    std::vector<double> weights;
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> pair_weights;  // D_kl of a chunk's rows
  };

  double l2_weight() const { return (1.0 - l1_ratio_) * inverse_C_ / weight_sum_; }

  // Side of a Gram matrix of [X 1] (of X without intercept).
  Index gram_size() const { return rows_.n_features() + (fit_intercept_ ? 1 : 0); }

  void require_curvature() const {
    if (!keep_curvature_) {
      throw std::logic_error("second derivatives need keep_curvature(true) before evaluate()");
    }
  }

  // Slabs of `per_slab` chunks each, per_slab chosen so that about slab_count slabs of
  // `per_slab_bytes` each fit in `budget`.
  Index chunks_per_slab(Index per_slab_bytes, Index budget) const {
    const Index n_chunks = (rows_.size() + chunk_ - 1) / chunk_;
    const Index n_slabs = slab_count(n_chunks, per_slab_bytes, budget);
    return std::max<Index>(1, (n_chunks + n_slabs - 1) / n_slabs);
  }

  Index slabs_of(Index per_slab) const {
    const Index n_chunks = (rows_.size() + chunk_ - 1) / chunk_;
    return std::max<Index>(1, (n_chunks + per_slab - 1) / per_slab);
  }

  void run_slabs(const std::function<void(Index)>& task, Index n_slabs = -1) {
    if (n_slabs < 0) n_slabs = static_cast<Index>(slabs_.size());
    if (pool_) {
      pool_->run(n_slabs, task);
    } else {
      for (Index s = 0; s < n_slabs; ++s) task(s);
    }
  }

  // Calls use(first, count, X_chunk) for the chunks of slab s (of per_slab chunks) in order.
  template <typename Use>
  void for_each_chunk(Index s, Index per_slab, typename RowSet<Matrix>::Scratch& gathered,
                      Use&& use) const {
    const Index begin = s * per_slab * chunk_;
    const Index end = std::min(rows_.size(), begin + per_slab * chunk_);
    for (Index first = begin; first < end; first += chunk_) {
      const Index count = std::min(chunk_, end - first);
      rows_.visit(first, count, gathered,
                  [&](const auto& X_chunk) { use(first, count, X_chunk); });
    }
  }

  // Unit parameters [W, b] of w (a point or a direction) in Scalar, W row-major.
  void set_units(const Eigen::VectorXd& w, RowMatrix<Scalar>& coef,
                 Vector<Scalar>& intercept) const {
    const Eigen::Map<const Eigen::MatrixXd> W(w.data(), rows_.n_features(), n_units_);
    if constexpr (kSparse) {
      coef = W.template cast<Scalar>();
    } else {
      coef = W.transpose().template cast<Scalar>();
    }
    intercept.setZero(n_units_);
    if (fit_intercept_) intercept = w.tail(n_units_).template cast<Scalar>();
  }

  // out = the slabs' partial sums added in order, centred for shift-invariant links, over S,
  // plus the L2 term's derivative at w (a point for the gradient, a direction for H v).
  void finish_sum(const Eigen::VectorXd& w, Eigen::VectorXd& out) const {
    const Index d = rows_.n_features();
    Eigen::Map<Eigen::MatrixXd> out_W(out.data(), d, n_units_);
    out_W.setZero();
    Eigen::VectorXd out_b = Eigen::VectorXd::Zero(n_units_);
    for (const Slab& slab : slabs_) {
      out_W += slab.partial_W;
      out_b += slab.partial_b;
    }
    if constexpr (Link::kShiftInvariant) {
      // Remove the rounding that would otherwise let the iterates drift along the directions
      // in which the loss is flat (the same vector added to every unit).
      out_W.colwise() -= out_W.rowwise().mean();
      out_b.array() -= out_b.mean();
    }
    out_W /= weight_sum_;
    const double l2 = l2_weight();
    if (l2 > 0.0) out_W += l2 * Eigen::Map<const Eigen::MatrixXd>(w.data(), d, n_units_);
    if (fit_intercept_) out.tail(n_units_) = out_b / weight_sum_;
  }

  // Z = X_chunk W + 1 b^T.
  template <typename Chunk>
  void scores(const Chunk& X_chunk, const RowMatrix<Scalar>& coef,
              const Vector<Scalar>& intercept, RowMatrix<Scalar>& Z) const {
    if constexpr (kSparse) {
      Z.noalias() = X_chunk * coef;
      if (fit_intercept_) Z.rowwise() += intercept.transpose();
    } else {
      kernels_.linear_scores(X_chunk, coef.data(),
                             fit_intercept_ ? intercept.data() : nullptr, n_units_, Z.data());
    }
  }

  // The slab's partial sums += [X_chunk 1]^T R, R its residuals.
  template <typename Chunk>
  void add_transposed_product(const Chunk& X_chunk, Slab& slab) const {
    if constexpr (kSparse) {
      slab.chunk_grad.noalias() = X_chunk.transpose() * slab.residuals;
      slab.partial_W += slab.chunk_grad.template cast<double>();
      if (fit_intercept_) {
        slab.partial_b += slab.residuals.colwise().sum().transpose().template cast<double>();
      }
    } else {
      slab.chunk_grad.resize(rows_.n_features(), n_units_);
      kernels_.add_transposed_product(X_chunk, slab.residuals.data(), n_units_,
                                      slab.chunk_grad.data(), slab.partial_W.data(),
                                      fit_intercept_ ? slab.partial_b.data() : nullptr);
    }
  }

  void clear_partial_sums(Slab& slab) const {
    slab.loss = 0.0;
    slab.partial_W.setZero(rows_.n_features(), n_units_);
    slab.partial_b.setZero(n_units_);
  }

  void accumulate_slab(Index s) {
    Slab& slab = slabs_[static_cast<size_t>(s)];
    clear_partial_sums(slab);
    for_each_chunk(s, chunks_per_slab_, slab.gathered,
                   [&](Index first, Index count, const auto& X_chunk) {
      const int* labels = chunk_values(labels_, first, count, slab.labels);
      const double* weights = weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
      Scalar* curvature = keep_curvature_ ? curvature_.row(first).data() : nullptr;
      // Scores, then residuals in their place, then the gradient, while the chunk is hot.
      slab.residuals.resize(count, n_units_);
      if constexpr (kSparse) {
        scores(X_chunk, coef_, intercept_, slab.residuals);
        slab.loss += link_(kernels_, slab.residuals.data(), count, labels, weights, curvature);
      } else {
        slab.loss += link_(kernels_, X_chunk, coef_.data(),
                           fit_intercept_ ? intercept_.data() : nullptr, slab.residuals.data(),
                           labels, weights, curvature);
      }
      add_transposed_product(X_chunk, slab);
    });
  }

  void accumulate_hessian_product_slab(Index s) {
    Slab& slab = slabs_[static_cast<size_t>(s)];
    clear_partial_sums(slab);
    for_each_chunk(s, chunks_per_slab_, slab.gathered,
                   [&](Index first, Index count, const auto& X_chunk) {
      const double* weights = weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
      // The direction's scores, then each row's loss Hessian applied to them, then back.
      slab.residuals.resize(count, n_units_);
      scores(X_chunk, direction_coef_, direction_intercept_, slab.residuals);
      link_.curvature_product(kernels_, curvature_.row(first).data(), weights,
                              slab.residuals.data(), count);
      add_transposed_product(X_chunk, slab);
    });
  }

  void accumulate_hessian_slab(Index s, Index per_slab) {
    HessianSlab& slab = hessian_slabs_[static_cast<size_t>(s)];
    const Index m = gram_size();
    slab.blocks.setZero(m, m * n_units_ * (n_units_ + 1) / 2);
    for_each_chunk(s, per_slab, slab.gathered, [&](Index first, Index count, const auto& X_chunk) {
      const double* weights = weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
      const Scalar* curvature = curvature_.row(first).data();
      const Index n_blocks = slab.blocks.cols() / m;
      slab.pair_weights.resize(count, n_blocks);
      Index block = 0;
      for (int k = 0; k < n_units_; ++k) {
        for (int l = k; l < n_units_; ++l, ++block) {
          link_.curvature_weights(curvature, weights, count, k, l, slab.pair_weights.col(block).data());
        }
      }
      if constexpr (kSparse) {
        for (block = 0; block < n_blocks; ++block) {
          add_sparse_gram(X_chunk, slab.pair_weights.col(block), slab.blocks.data() + block * m * m);
        }
      } else {
        kernels_.add_weighted_grams(X_chunk, slab.pair_weights.data(), n_blocks,
                                    fit_intercept_, slab.blocks.data());
      }
    });
  }

  // G (gram_size() square, column-major) += [X_chunk 1]^T diag(D) [X_chunk 1] for sparse X.
  template <typename Chunk, typename Weights>
  void add_sparse_gram(const Chunk& X_chunk, const Weights& D, double* G) const {
    const Index d = rows_.n_features();
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
  Link link_;
  int n_units_;
  bool fit_intercept_;
  double inverse_C_;  // 0 when C is infinite
  double l1_ratio_;
  ThreadPool* pool_;
  const KernelTable<Scalar>& kernels_ = kernels<Scalar>();
  Index chunk_;
  Index chunks_per_slab_ = 1;
  double weight_sum_ = 0.0;
  std::vector<Slab> slabs_;
  std::vector<HessianSlab> hessian_slabs_;
  // W in Scalar, laid out for the chunk products: features x units for sparse rows, which read
  // and scatter to a feature's weights for all units; units x features for the dense kernels.
  // The same for the direction of a Hessian-vector product.
  RowMatrix<Scalar> coef_, direction_coef_;
  Vector<Scalar> intercept_, direction_intercept_;
  bool keep_curvature_ = false;
  RowMatrix<Scalar> curvature_;  // n_units values per row of the set, in set order
};

}  // namespace multilogit::detail
