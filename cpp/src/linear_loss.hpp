// Regularised empirical risk of a linear model with n_units outputs:
//   f(W, b) = (1/S) sum_i s_i loss(W x_i + b, y_i) + ||W||^2 / (2 C S),   S = sum_i s_i
// evaluated in one pass over the rows: for each cache-sized chunk, the scores, the per-row loss
// and residual, and the chunk's gradient contribution are computed while the chunk is hot.
//
// Parameters are laid out as [W (d x n_units, column-major: unit k's weights contiguous), b].
// Rows are split into a fixed number of slabs that depends only on the data's shape; each slab
// accumulates its own partial sums and the slabs are added in order, so the value and gradient
// are bitwise identical for any number of threads.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "kernels/kernels.hpp"
#include "multilogit/objective.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

// Number of slabs: enough for parallelism, capped so that their partial gradients (a float64
// and a Scalar copy of the parameters each) stay within 16 MiB.
inline Index slab_count(Index n_chunks, Index n_parameters) {
  const Index max_slabs = 16;
  const Index per_slab_bytes = 16 * std::max<Index>(n_parameters, 1);
  const Index memory_cap = std::max<Index>(2, (Index(16) << 20) / per_slab_bytes);
  return std::max<Index>(1, std::min({n_chunks, max_slabs, memory_cap}));
}

template <typename Matrix, class Link>
class LinearLoss final : public Objective {
  using Scalar = typename Matrix::Scalar;

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
    const Index n_chunks = (rows_.size() + chunk_ - 1) / chunk_;
    const Index n_slabs = slab_count(n_chunks, dimension());
    chunks_per_slab_ = (n_chunks + n_slabs - 1) / n_slabs;
    slabs_.resize(static_cast<size_t>((n_chunks + chunks_per_slab_ - 1) / chunks_per_slab_));
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

  double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) override {
    const Index d = rows_.n_features();
    const Eigen::Map<const Eigen::MatrixXd> W(w.data(), d, n_units_);
    if constexpr (RowSet<Matrix>::kSparse) {
      coef_ = W.template cast<Scalar>();
    } else {
      coef_ = W.transpose().template cast<Scalar>();
    }
    intercept_.setZero(n_units_);
    if (fit_intercept_) intercept_ = w.tail(n_units_).template cast<Scalar>();

    const std::function<void(Index)> task = [this](Index s) { accumulate_slab(s); };
    if (pool_) {
      pool_->run(static_cast<Index>(slabs_.size()), task);
    } else {
      for (Index s = 0; s < static_cast<Index>(slabs_.size()); ++s) task(s);
    }

    double loss = 0.0;
    Eigen::Map<Eigen::MatrixXd> grad_W(gradient.data(), d, n_units_);
    grad_W.setZero();
    Eigen::VectorXd grad_b = Eigen::VectorXd::Zero(n_units_);
    for (const Slab& slab : slabs_) {
      loss += slab.loss;
      grad_W += slab.grad_W;
      grad_b += slab.grad_b;
    }

    if constexpr (Link::kShiftInvariant) {
      // Remove the rounding that would otherwise let the iterates drift along the directions
      // in which the loss is flat (the same vector added to every unit).
      grad_W.colwise() -= grad_W.rowwise().mean();
      grad_b.array() -= grad_b.mean();
    }
    const double S = weight_sum_;
    double value = loss / S;
    grad_W /= S;
    const double l2 = (1.0 - l1_ratio_) * inverse_C_ / S;
    if (l2 > 0.0) {
      value += 0.5 * l2 * W.squaredNorm();
      grad_W += l2 * W;
    }
    if (fit_intercept_) gradient.tail(n_units_) = grad_b / S;
    return value;
  }

 private:
  struct Slab {
    double loss = 0.0;
    Eigen::MatrixXd grad_W;
    Eigen::VectorXd grad_b;
    typename RowSet<Matrix>::Scratch gathered;
    std::vector<int> labels;
    std::vector<double> weights;
    RowMatrix<Scalar> residuals;  // the chunk's scores, then the derivatives of its losses
    RowMatrix<Scalar> chunk_grad;
  };

  void accumulate_slab(Index s) {
    Slab& slab = slabs_[static_cast<size_t>(s)];
    const Index d = rows_.n_features();
    slab.loss = 0.0;
    slab.grad_W.setZero(d, n_units_);
    slab.grad_b.setZero(n_units_);
    const Index begin = s * chunks_per_slab_ * chunk_;
    const Index end = std::min(rows_.size(), begin + chunks_per_slab_ * chunk_);
    for (Index first = begin; first < end; first += chunk_) {
      const Index count = std::min(chunk_, end - first);
      const int* labels = chunk_values(labels_, first, count, slab.labels);
      const double* weights = weights_ ? chunk_values(weights_, first, count, slab.weights) : nullptr;
      slab.residuals.resize(count, n_units_);
      rows_.visit(first, count, slab.gathered, [&](const auto& X_chunk) {
        // Scores, then residuals in their place, then the gradient, while the chunk is hot.
        if constexpr (RowSet<Matrix>::kSparse) {
          slab.residuals.noalias() = X_chunk * coef_;
          if (fit_intercept_) slab.residuals.rowwise() += intercept_.transpose();
        } else {
          kernels_.linear_scores(dense_block(X_chunk), coef_.data(),
                          fit_intercept_ ? intercept_.data() : nullptr, n_units_,
                          slab.residuals.data());
        }
        slab.loss += link_(kernels_, slab.residuals.data(), count, labels, weights);
        if constexpr (RowSet<Matrix>::kSparse) {
          slab.chunk_grad.noalias() = X_chunk.transpose() * slab.residuals;
          slab.grad_W += slab.chunk_grad.template cast<double>();
        } else {
          slab.chunk_grad.resize(d, n_units_);
          kernels_.add_transposed_product(dense_block(X_chunk), slab.residuals.data(), n_units_,
                                          slab.chunk_grad.data(), slab.grad_W.data());
        }
        if (fit_intercept_) {
          slab.grad_b += slab.residuals.colwise().sum().transpose().template cast<double>();
        }
      });
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
  // W in Scalar, laid out for the chunk products: features x units for sparse rows, which read
  // and scatter to a feature's weights for all units; units x features for the dense kernels.
  RowMatrix<Scalar> coef_;
  Vector<Scalar> intercept_;
};

}  // namespace multilogit::detail
