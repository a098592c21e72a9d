// Regularised empirical risk of a linear model with n_units outputs:
//   f(W, b) = (1/S) sum_i s_i loss(W x_i + b, y_i) + ||W||^2 / (2 C S),   S = sum_i s_i
// evaluated in one pass over the rows (linear_passes.hpp): for each cache-sized chunk, the
// scores, the per-row loss and residual, and the chunk's gradient contribution are computed
// while the chunk is hot. Hessian-vector products take the same pass with the direction's
// scores in place of the scores, and the full Hessian one pass of weighted Gram matrices.
//
// Parameters are laid out as [W (d x n_units, column-major: unit k's weights contiguous), b].
// Values, gradients and second derivatives are bitwise identical for any number of threads.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

#include <Eigen/Core>

#include "linear_passes.hpp"
#include "multilogit/objective.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

template <typename Matrix, class Link>
class LinearLoss final : public SecondOrderObjective {
  using Scalar = typename Matrix::Scalar;
  using Passes = LinearPasses<Matrix>;

 public:
  // labels[source_row] is the class index of each row of X and weights[source_row] its weight
  // (null: all ones). pool may be null (single thread).
  // The penalty ||W||^2 / (2 C S) becomes, with an elastic-net l1_ratio r,
  // (1 - r) ||W||^2 / (2 C S) here plus r ||W||_1 / (C S) left to the solver (l1_penalty()).
  LinearLoss(RowSet<Matrix> rows, const int* labels, const double* weights, Link link,
             int n_units, bool fit_intercept, double C, double l1_ratio, ThreadPool* pool)
      // A float64 and a Scalar copy of the parameters per slab.
      : passes_(rows, labels, weights, fit_intercept, pool,
                16 * (rows.n_features() + (fit_intercept ? 1 : 0)) * n_units),
        link_(link),
        n_units_(n_units),
        inverse_C_(1.0 / C),
        l1_ratio_(l1_ratio) {}

  Index dimension() const override {
    return passes_.n_features() * n_units_ + (passes_.fit_intercept() ? n_units_ : 0);
  }

  // Weight of |w_i| in the L1 part of the penalty, per parameter (intercepts are not penalised);
  // empty when there is no L1 part.
  Eigen::VectorXd l1_penalty() const {
    const double l1 = l1_ratio_ * inverse_C_ / passes_.weight_sum();
    if (!(l1 > 0.0)) return {};
    Eigen::VectorXd penalty = Eigen::VectorXd::Zero(dimension());
    penalty.head(passes_.n_features() * n_units_).setConstant(l1);
    return penalty;
  }

  // Scores are computed in Scalar, so f carries Scalar's rounding.
  double relative_precision() const override { return std::numeric_limits<Scalar>::epsilon(); }

  // Whether evaluate() keeps what the second derivatives need: n_units Scalars per row, the
  // probabilities for softmax and the weighted curvature s p (1 - p) for a binary unit. It costs
  // n x n_units Scalars, as much as the scores of all rows, and saves recomputing them (an
  // exp per score) for every Hessian-vector product.
  void keep_curvature(bool keep) {
    keep_curvature_ = keep;
    curvature_.resize(keep ? passes_.n_rows() : 0, keep ? n_units_ : 0);
  }

  double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) override {
    diagonal_is_current_ = false;
    set_units(w, coef_, intercept_);
    const KernelTable<Scalar>& kernels = passes_.kernels();
    const Scalar* b = passes_.fit_intercept() ? intercept_.data() : nullptr;
    passes_.product_pass(coef_, intercept_, n_units_, 1,
                         [&](const typename Passes::Chunk& chunk) {
      Scalar* curvature = keep_curvature_ ? curvature_.row(chunk.first).data() : nullptr;
      chunk.losses[0] +=
          chunk.X ? link_(kernels, *chunk.X, coef_.data(), b, chunk.Z, chunk.labels,
                          chunk.weights, curvature, chunk.sums)
                  : link_(kernels, chunk.Z, chunk.count, chunk.labels, chunk.weights, curvature);
    }, Passes::Scoring::ByTransform);
    finish_sum(w, gradient);
    const Eigen::Map<const Eigen::MatrixXd> W(w.data(), passes_.n_features(), n_units_);
    return passes_.summed_losses()[0] / passes_.weight_sum() + 0.5 * l2_weight() * W.squaredNorm();
  }

  // H v at the point of the last evaluate(), which must have kept the curvature.
  void hessian_product(const Eigen::VectorXd& v, Eigen::VectorXd& product) override {
    require_curvature();
    set_units(v, direction_coef_, direction_intercept_);
    const KernelTable<Scalar>& kernels = passes_.kernels();
    // The direction's scores, then each row's loss Hessian applied to them, then back.
    const Scalar* c = passes_.fit_intercept() ? direction_intercept_.data() : nullptr;
    passes_.product_pass(direction_coef_, direction_intercept_, n_units_, 0,
                         [&](const typename Passes::Chunk& chunk) {
      const Scalar* curvature = curvature_.row(chunk.first).data();
      if (chunk.X) {
        link_.curvature_product(kernels, *chunk.X, direction_coef_.data(), c, curvature,
                                chunk.weights, chunk.Z, chunk.sums);
      } else {
        link_.curvature_product(kernels, curvature, chunk.weights, chunk.Z, chunk.count);
      }
    }, Passes::Scoring::ByTransform);
    finish_sum(v, product);
  }

  // Jacobi preconditioning in coordinates that centre the features at their means (see
  // apply_jacobi; sparse features stay uncentred), with the Hessian's diagonal at the point of
  // the last evaluate() (which must have kept the curvature), computed in one pass of squared
  // values on the first call after it.
  void precondition(const Eigen::VectorXd& residual, Eigen::VectorXd& preconditioned) override {
    require_curvature();
    if (!diagonal_is_current_) compute_hessian_diagonal();
    const Index d = passes_.n_features();
    if constexpr (Link::kShiftInvariant) {
      apply_shift_invariant_jacobi(hessian_diagonal_, centre_, d, n_units_, l2_weight(), residual,
                                   preconditioned, centred_);
    } else {
      apply_jacobi(hessian_diagonal_, centre_, d, n_units_, residual, preconditioned);
    }
  }

  // The intercepts of the best constant predictor (constant_predictor_intercepts).
  Eigen::VectorXd constant_predictor_intercepts() const {
    if constexpr (Link::kShiftInvariant) {
      return detail::constant_predictor_intercepts(passes_.class_weight_sums(n_units_),
                                                   passes_.weight_sum(), true);
    } else {
      const int positive = link_.positive_class;
      const Eigen::VectorXd positive_weight =
          passes_.class_weight_sums(positive + 1).tail(1);
      return detail::constant_predictor_intercepts(positive_weight, passes_.weight_sum(), false);
    }
  }

  // L-BFGS's H0 (binary_ or softmax_lbfgs_initial_inverse_hessian), from the column moments
  // of X: squared values, and values to centre them.
  std::function<void(Eigen::VectorXd&)> lbfgs_initial_inverse_hessian() {
    const Eigen::MatrixXd moments = passes_.column_moments();
    const double S = passes_.weight_sum();
    Eigen::VectorXd centre;
    if (passes_.fit_intercept()) centre = moments.col(0) / S;
    const Eigen::VectorXd squares = moments.col(1);
    if constexpr (Link::kShiftInvariant) {
      const Eigen::VectorXd start = passes_.fit_intercept()
                                        ? Eigen::VectorXd(passes_.class_weight_sums(n_units_) / S)
                                        : Eigen::VectorXd::Constant(n_units_, 1.0 / n_units_);
      return softmax_lbfgs_initial_inverse_hessian(squares, std::move(centre), S, l2_weight(),
                                                   passes_.fit_intercept(), start);
    } else {
      return binary_lbfgs_initial_inverse_hessian(squares, std::move(centre), S, l2_weight(),
                                                  passes_.fit_intercept());
    }
  }

  // The Hessian at the point of the last evaluate(), which must have kept the curvature: one
  // weighted Gram matrix of [X 1] per pair of units k <= l (d^2 n n_units^2 / 2 operations).
  void hessian(Eigen::MatrixXd& hessian) override {
    require_curvature();
    const Index d = passes_.n_features(), m = passes_.gram_size();
    const Index n_blocks = Index(n_units_) * (n_units_ + 1) / 2;
    // The partial Hessians are larger than the partial gradients: a budget of their own.
    const Index per_slab = passes_.chunks_per_slab(8 * m * m * n_blocks, Index(64) << 20);
    Eigen::MatrixXd blocks = passes_.gram_pass(
        n_blocks, per_slab, [&](Index first, Index count, const double* weights, Scalar* D) {
      const Scalar* curvature = curvature_.row(first).data();
      Index block = 0;
      for (int k = 0; k < n_units_; ++k) {
        for (int l = k; l < n_units_; ++l, ++block) {
          link_.curvature_weights(curvature, weights, count, k, l, D + block * count);
        }
      }
    });
    blocks /= passes_.weight_sum();

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
          if (passes_.fit_intercept()) hessian(parameter(k, d), parameter(l, d)) += flat;
          if (!(l2 > 0.0)) {
            for (Index a = 0; a < d; ++a) hessian(parameter(k, a), parameter(l, a)) += flat;
          }
        }
      }
    }
  }

 private:
  double l2_weight() const { return (1.0 - l1_ratio_) * inverse_C_ / passes_.weight_sum(); }

  void require_curvature() const {
    if (!keep_curvature_) {
      throw std::logic_error("second derivatives need keep_curvature(true) before evaluate()");
    }
  }

  void compute_hessian_diagonal() {
    if constexpr (!Passes::kSparse) {
      if (passes_.fit_intercept() && centre_.size() == 0) centre_ = passes_.column_means();
    }
    passes_.weighted_moment_pass(
        n_units_, true, centre_.size() ? centre_.data() : nullptr,
        [&](Index first, Index count, const double* weights, Scalar* D) {
      link_.curvature_diagonal(curvature_.row(first).data(), weights, count, D);
    });
    const Index d = passes_.n_features();
    const double S = passes_.weight_sum();
    hessian_diagonal_.resize(dimension());
    Eigen::Map<Eigen::MatrixXd> diagonal_W(hessian_diagonal_.data(), d, n_units_);
    Eigen::VectorXd diagonal_b(n_units_);
    passes_.summed_products(diagonal_W, diagonal_b);
    diagonal_W = diagonal_W / S + Eigen::MatrixXd::Constant(d, n_units_, l2_weight());
    if (passes_.fit_intercept()) hessian_diagonal_.tail(n_units_) = diagonal_b / S;
    floor_jacobi_diagonal(hessian_diagonal_);
    diagonal_is_current_ = true;
  }

  // Unit parameters [W, b] of w (a point or a direction) in Scalar.
  void set_units(const Eigen::VectorXd& w, typename Passes::Coef& coef,
                 Vector<Scalar>& intercept) const {
    const Index d = passes_.n_features();
    passes_.clear_units(n_units_, coef, intercept);
    for (int k = 0; k < n_units_; ++k) {
      passes_.set_unit(k, w.data() + k * d,
                       passes_.fit_intercept() ? w[d * n_units_ + k] : 0.0, coef, intercept);
    }
  }

  // out = the last pass's sums, centred for shift-invariant links, over S, plus the L2 term's
  // derivative at w (a point for the gradient, a direction for H v).
  void finish_sum(const Eigen::VectorXd& w, Eigen::VectorXd& out) const {
    const Index d = passes_.n_features();
    Eigen::Map<Eigen::MatrixXd> out_W(out.data(), d, n_units_);
    Eigen::VectorXd out_b(n_units_);
    passes_.summed_products(out_W, out_b);
    if constexpr (Link::kShiftInvariant) {
      // Remove the rounding that would otherwise let the iterates drift along the directions
      // in which the loss is flat (the same vector added to every unit).
      out_W.colwise() -= out_W.rowwise().mean();
      out_b.array() -= out_b.mean();
    }
    const double S = passes_.weight_sum();
    out_W /= S;
    const double l2 = l2_weight();
    if (l2 > 0.0) out_W += l2 * Eigen::Map<const Eigen::MatrixXd>(w.data(), d, n_units_);
    if (passes_.fit_intercept()) out.tail(n_units_) = out_b / S;
  }

  Passes passes_;
  Link link_;
  int n_units_;
  double inverse_C_;  // 0 when C is infinite
  double l1_ratio_;
  typename Passes::Coef coef_, direction_coef_;  // W of the point and of the direction
  Vector<Scalar> intercept_, direction_intercept_;
  bool keep_curvature_ = false;
  RowMatrix<Scalar> curvature_;  // n_units values per row of the set, in set order
  Eigen::VectorXd hessian_diagonal_;  // at the last evaluate()'s point when diagonal_is_current_
  bool diagonal_is_current_ = false;
  Eigen::VectorXd centre_;   // the features' means for preconditioning; empty: not centred
  Eigen::VectorXd centred_;  // room for a residual without shifts
};

}  // namespace multilogit::detail
