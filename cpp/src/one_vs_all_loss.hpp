// The binary problems of one-vs-all, evaluated together: problem k is class k against the rest,
//   f_k(w, b) = (1/S) sum_i s_i log(1 + exp(-t_ik (w x_i + b))) + ||w||^2 / (2 C S),
// t_ik = +1 for the rows of class k, else -1. All share X, the labels and the weights, so one
// pass over X (linear_passes.hpp) serves any number of them, each at its own point: the scores
// of every problem asked for at once, then each one's binary loss and residuals, then one
// transposed product. Hessian-vector products take the same pass with the directions' scores,
// and full Hessians one pass of weighted Gram matrices, one weight column per problem.
//
// A problem's parameters are laid out as [w (d), b], as LinearLoss lays out one binary unit.
// Problems occupy slots, each with its own column of kept curvature (the weighted second
// derivatives s p (1 - p) at the problem's last evaluated point).
#pragma once

#include <limits>
#include <stdexcept>
#include <vector>

#include <Eigen/Core>

#include "linear_passes.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

template <typename Matrix>
class OneVsAllLoss {
  using Scalar = typename Matrix::Scalar;
  using Passes = LinearPasses<Matrix>;

 public:
  // One problem's part in a call: what it asks for and where the answers go.
  struct Request {
    int slot = 0;                 // the slot the problem occupies
    int problem = 0;              // its class
    bool keep_curvature = false;  // evaluate: keep what its second derivatives need
    const Eigen::VectorXd* input = nullptr;  // evaluate: the point; hessian_product: direction
    Eigen::VectorXd* vector_out = nullptr;   // evaluate: the gradient; hessian_product: H v
    Eigen::MatrixXd* matrix_out = nullptr;   // hessian: H
    double value = 0.0;                      // evaluate: f at the point
  };

  // Arguments as for LinearLoss; up to n_slots problems are asked for at a time.
  OneVsAllLoss(RowSet<Matrix> rows, const int* labels, const double* weights, int n_slots,
               bool fit_intercept, double C, double l1_ratio, ThreadPool* pool)
      // A float64 and a Scalar copy of every slot's parameters per slab.
      : passes_(rows, labels, weights, fit_intercept, pool,
                16 * (rows.n_features() + (fit_intercept ? 1 : 0)) * n_slots),
        n_slots_(n_slots),
        inverse_C_(1.0 / C),
        l1_ratio_(l1_ratio) {
    const Index m = passes_.gram_size();
    // Slabs for a Gram matrix per slot, with the budget LinearLoss gives its partial Hessians.
    gram_chunks_per_slab_ = passes_.chunks_per_slab(8 * m * m * n_slots, Index(64) << 20);
  }

  // Parameters of one problem.
  Index dimension() const { return passes_.gram_size(); }

  // Weight of |w_i| in the L1 part of one problem's penalty (see LinearLoss::l1_penalty).
  Eigen::VectorXd l1_penalty() const {
    const double l1 = l1_ratio_ * inverse_C_ / passes_.weight_sum();
    if (!(l1 > 0.0)) return {};
    Eigen::VectorXd penalty = Eigen::VectorXd::Zero(dimension());
    penalty.head(passes_.n_features()).setConstant(l1);
    return penalty;
  }

  double relative_precision() const { return std::numeric_limits<Scalar>::epsilon(); }

  // f and the gradient of every requested problem at its point.
  void evaluate(const std::vector<Request*>& requests) {
    const int n = static_cast<int>(requests.size());
    set_units(requests, coef_, intercept_);
    bool keep = false;
    for (const Request* request : requests) keep = keep || request->keep_curvature;
    if (keep && curvature_.cols() == 0) curvature_.resize(passes_.n_rows(), n_slots_);
    const KernelTable<Scalar>& kernels = passes_.kernels();
    passes_.product_pass(coef_, intercept_, n, n, [&](const typename Passes::Chunk& chunk) {
      // Each problem's scores contiguous for the binary loss kernel, and back.
      auto& scores = chunk.scratch;
      Eigen::Map<RowMatrix<Scalar>> Z(chunk.Z, chunk.count, n);
      scores = Z;
      for (int j = 0; j < n; ++j) {
        const Request& request = *requests[static_cast<size_t>(j)];
        Scalar* curvature =
            request.keep_curvature ? &curvature_(chunk.first, request.slot) : nullptr;
        chunk.losses[j] += kernels.binary_loss(scores.col(j).data(), chunk.count, chunk.labels,
                                               request.problem, chunk.weights, curvature);
      }
      Z = scores;
    });
    const Eigen::VectorXd losses = passes_.summed_losses();
    finish_sums(requests);
    for (int j = 0; j < n; ++j) {
      Request& request = *requests[static_cast<size_t>(j)];
      const auto w = request.input->head(passes_.n_features());
      request.value =
          losses[j] / passes_.weight_sum() + 0.5 * l2_weight() * w.squaredNorm();
    }
  }

  // H v of every requested problem, at its last evaluated point (which kept the curvature).
  void hessian_product(const std::vector<Request*>& requests) {
    require_curvature(requests);
    const int n = static_cast<int>(requests.size());
    set_units(requests, direction_coef_, direction_intercept_);
    passes_.product_pass(direction_coef_, direction_intercept_, n, 0,
                         [&](const typename Passes::Chunk& chunk) {
      Eigen::Map<RowMatrix<Scalar>> U(chunk.Z, chunk.count, n);
      for (int j = 0; j < n; ++j) {
        const int slot = requests[static_cast<size_t>(j)]->slot;
        U.col(j).array() *= curvature_.col(slot).segment(chunk.first, chunk.count).array();
      }
    });
    finish_sums(requests);
  }

  // The Hessian of every requested problem at its last evaluated point (which kept the
  // curvature): one weighted Gram matrix of [X 1] each.
  void hessian(const std::vector<Request*>& requests) {
    require_curvature(requests);
    const Index n = static_cast<Index>(requests.size()), m = passes_.gram_size();
    Eigen::MatrixXd grams = passes_.gram_pass(
        n, gram_chunks_per_slab_, [&](Index first, Index count, const double*, Scalar* D) {
      for (Index j = 0; j < n; ++j) {
        const int slot = requests[static_cast<size_t>(j)]->slot;
        Eigen::Map<Vector<Scalar>>(D + j * count, count) =
            curvature_.col(slot).segment(first, count);
      }
    });
    grams /= passes_.weight_sum();
    for (Index j = 0; j < n; ++j) {
      Eigen::MatrixXd& hessian = *requests[static_cast<size_t>(j)]->matrix_out;
      hessian = grams.middleCols(j * m, m);
      hessian.diagonal().head(passes_.n_features()).array() += l2_weight();
    }
  }

 private:
  double l2_weight() const { return (1.0 - l1_ratio_) * inverse_C_ / passes_.weight_sum(); }

  void require_curvature(const std::vector<Request*>& requests) const {
    for (const Request* request : requests) {
      if (!request->keep_curvature || curvature_.cols() == 0) {
        throw std::logic_error("second derivatives need keep_curvature(true) before evaluate()");
      }
    }
  }

  // The requested problems' inputs as units, in request order.
  void set_units(const std::vector<Request*>& requests, typename Passes::Coef& coef,
                 Vector<Scalar>& intercept) const {
    const Index d = passes_.n_features();
    passes_.clear_units(static_cast<int>(requests.size()), coef, intercept);
    for (size_t j = 0; j < requests.size(); ++j) {
      const Eigen::VectorXd& input = *requests[j]->input;
      passes_.set_unit(static_cast<int>(j), input.data(), passes_.fit_intercept() ? input[d] : 0.0,
                       coef, intercept);
    }
  }

  // Each problem's vector_out = its part of the last pass's sums over S, plus the L2 term's
  // derivative at its input (a point for the gradient, a direction for H v).
  void finish_sums(const std::vector<Request*>& requests) {
    const Index d = passes_.n_features();
    const Index n = static_cast<Index>(requests.size());
    sums_W_.resize(d, n);
    sums_b_.resize(n);
    passes_.summed_products(sums_W_, sums_b_);
    const double S = passes_.weight_sum(), l2 = l2_weight();
    for (Index j = 0; j < n; ++j) {
      const Request& request = *requests[static_cast<size_t>(j)];
      auto out_w = request.vector_out->head(d);
      out_w = sums_W_.col(j) / S;
      if (l2 > 0.0) out_w += l2 * request.input->head(d);
      if (passes_.fit_intercept()) (*request.vector_out)[d] = sums_b_[j] / S;
    }
  }

  Passes passes_;
  int n_slots_;
  double inverse_C_;  // 0 when C is infinite
  double l1_ratio_;
  Index gram_chunks_per_slab_ = 1;
  typename Passes::Coef coef_, direction_coef_;  // the requested points and directions as units
  Vector<Scalar> intercept_, direction_intercept_;
  Eigen::MatrixXd sums_W_;
  Eigen::VectorXd sums_b_;
  // Column `slot`: the curvature of the problem in that slot at its last evaluated point, per
  // row of the set. Allocated when a problem first asks to keep it.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> curvature_;
};

}  // namespace multilogit::detail
