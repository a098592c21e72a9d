// Binary problems evaluated together: one-vs-all's (class k against the rest, on all rows) and
// one-vs-one's (class j against class i, on the rows of the two). Problem p is
//   f_p(w, b) = (1/S_p) sum_{i in rows(p)} s_i log(1 + exp(-t_ip (w x_i + b)))
//               + ||w||^2 / (2 C S_p),
// t_ip = +1 for the rows of its positive class, else -1, S_p the sum of its rows' weights.
//
// Rows come in groups (one of all rows for one-vs-all, one per class for one-vs-one), and a
// problem trains on one or two of them. A call serves any number of problems, each at its own
// point, with one pass over each group some of them use (linear_passes.hpp): the scores of all
// those problems at once, then each one's binary loss and residuals, then one transposed
// product. Every row is read once per call, however many problems it serves. Hessian-vector
// products are the same passes with the directions' scores times the kept curvature, so a pass
// serves evaluations and products in any mix: problems whose solvers are at different stages
// (a line search, conjugate gradient steps) still share it. Full Hessians take one pass of
// weighted Gram matrices per group, one weight column per problem. A problem's sums over two
// groups are added in group order, so results do not depend on threads.
//
// A problem's parameters are laid out as [w (d), b], as LinearLoss lays out one binary unit.
// Problems occupy slots, each with the kept curvature of its problem (the weighted second
// derivatives s p (1 - p) of its rows at its last evaluated point).
#pragma once

#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "linear_passes.hpp"
#include "multilogit/types.hpp"
#include "row_set.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

// A binary problem: the class whose rows are positive, and the groups of rows it trains on.
struct BinaryProblem {
  int positive = 0;
  int groups[2] = {0, -1};  // -1: one group only
};

// One-vs-all on one group of all rows: problem k is class k against the rest.
inline std::vector<BinaryProblem> one_vs_all_problems(int n_classes) {
  std::vector<BinaryProblem> problems(static_cast<size_t>(n_classes));
  for (int k = 0; k < n_classes; ++k) problems[static_cast<size_t>(k)].positive = k;
  return problems;
}

// One-vs-one on group c = the rows of class c: the pairs i < j in order, class j positive.
inline std::vector<BinaryProblem> one_vs_one_problems(int n_classes) {
  std::vector<BinaryProblem> problems;
  for (int i = 0; i < n_classes; ++i) {
    for (int j = i + 1; j < n_classes; ++j) problems.push_back(BinaryProblem{j, {i, j}});
  }
  return problems;
}

template <typename Matrix>
class BinaryProblemsLoss {
  using Scalar = typename Matrix::Scalar;
  using Passes = LinearPasses<Matrix>;

 public:
  // What a request asks for. Second derivatives are taken at the problem's last evaluated point,
  // which must have kept the curvature.
  enum class Ask {
    Evaluate,         // f and its gradient
    HessianProduct,   // H v
    HessianDiagonal,  // diag(H) in precondition()'s coordinates, floored (floor_jacobi_diagonal)
    Hessian,          // H
  };

  // Requests served by the same kind of pass: evaluations and Hessian-vector products share
  // product passes; diagonals and Hessians each take passes of their own.
  static int pass_kind(Ask ask) {
    return ask == Ask::Hessian ? 2 : ask == Ask::HessianDiagonal ? 1 : 0;
  }
  static constexpr int kPassKinds = 3;

  // One problem's part in a call: what it asks for and where the answers go.
  struct Request {
    Ask ask = Ask::Evaluate;
    int slot = 0;                 // the slot the problem occupies
    int problem = 0;              // its index in the problem list
    bool keep_curvature = false;  // Evaluate: keep what its second derivatives need
    const Eigen::VectorXd* input = nullptr;  // Evaluate: the point; HessianProduct: v
    // Evaluate: the gradient; HessianProduct: H v; HessianDiagonal: diag(H)
    Eigen::VectorXd* vector_out = nullptr;
    Eigen::MatrixXd* matrix_out = nullptr;   // Hessian: H
    double value = 0.0;                      // Evaluate: f at the point
  };

  // The problems on groups of rows of one X; labels, weights and the rest as for LinearLoss.
  // Up to n_slots problems are asked for at a time. With many groups beside the pool's threads,
  // whole groups go to the threads; else each group's pass is threaded over its rows.
  BinaryProblemsLoss(const std::vector<RowSet<Matrix>>& groups,
                     std::vector<BinaryProblem> problems, const int* labels,
                     const double* weights, int n_slots, bool fit_intercept, double C,
                     double l1_ratio, ThreadPool* pool)
      : problems_(std::move(problems)),
        inverse_C_(1.0 / C),
        l1_ratio_(l1_ratio),
        pool_(pool),
        groups_in_parallel_(pool && static_cast<Index>(groups.size()) >= 2 * pool->size()),
        curvature_(static_cast<size_t>(n_slots)),
        kept_for_(static_cast<size_t>(n_slots), -1) {
    const Index p = groups.front().n_features() + (fit_intercept ? 1 : 0);
    groups_.reserve(groups.size());
    for (const RowSet<Matrix>& rows : groups) {
      // A float64 and a Scalar copy of every slot's parameters per slab.
      groups_.emplace_back(Passes(rows, labels, weights, fit_intercept,
                                  groups_in_parallel_ ? nullptr : pool, 16 * p * n_slots));
      Group& group = groups_.back();
      // Slabs for a Gram matrix per slot, with the budget LinearLoss gives its partial Hessians.
      group.gram_chunks_per_slab = group.passes.chunks_per_slab(8 * p * p * n_slots,
                                                                Index(64) << 20);
    }
    for (const BinaryProblem& problem : problems_) {
      double weight_sum = 0.0;
      for (int g : problem.groups) {
        if (g >= 0) weight_sum += groups_[static_cast<size_t>(g)].passes.weight_sum();
      }
      weight_sums_.push_back(weight_sum);
    }
  }

  // Parameters of one problem.
  Index dimension() const { return passes().gram_size(); }

  // The intercept of the problem's best constant predictor (constant_predictor_intercepts),
  // from the weights of its positive class's rows over its groups.
  Eigen::VectorXd constant_predictor_intercepts(int problem) const {
    const BinaryProblem& binary = problems_[static_cast<size_t>(problem)];
    Eigen::VectorXd positive_weight = Eigen::VectorXd::Zero(1);
    for (int g : binary.groups) {
      if (g < 0) continue;
      positive_weight +=
          groups_[static_cast<size_t>(g)].passes.class_weight_sums(binary.positive + 1).tail(1);
    }
    return detail::constant_predictor_intercepts(positive_weight, weight_sum(problem), false);
  }

  // Weight of |w_i| in the L1 part of a problem's penalty (see LinearLoss::l1_penalty).
  Eigen::VectorXd l1_penalty(int problem) const {
    const double l1 = l1_ratio_ * inverse_C_ / weight_sum(problem);
    if (!(l1 > 0.0)) return {};
    Eigen::VectorXd penalty = Eigen::VectorXd::Zero(dimension());
    penalty.head(passes().n_features()).setConstant(l1);
    return penalty;
  }

  double relative_precision() const { return std::numeric_limits<Scalar>::epsilon(); }

  // M^-1 r of a problem's Jacobi preconditioner, from the diagonal a HessianDiagonal request
  // returned: in coordinates that centre dense features at the means of the problem's rows, as
  // LinearLoss does (see apply_jacobi).
  void precondition(int problem, const Eigen::VectorXd& diagonal,
                    const Eigen::VectorXd& residual, Eigen::VectorXd& preconditioned) const {
    const Eigen::VectorXd none;
    const bool centred = !Passes::kSparse && passes().fit_intercept();
    apply_jacobi(diagonal, centred ? centres_[static_cast<size_t>(problem)] : none,
                 passes().n_features(), 1, residual, preconditioned);
  }

  // L-BFGS's H0 for `problem` (binary_lbfgs_initial_inverse_hessian), centred at the mean of
  // the problem's rows, sparse X too. The first call takes the moments of X in passes over all
  // groups, so it must not run concurrently with any other call.
  std::function<void(Eigen::VectorXd&)> lbfgs_initial_inverse_hessian(int problem) {
    const Index d = passes().n_features();
    const bool centred = passes().fit_intercept();
    if (centred && centres_.empty()) set_centres();
    Eigen::VectorXd squares = Eigen::VectorXd::Zero(d), centre;
    for (int g : problems_[static_cast<size_t>(problem)].groups) {
      if (g >= 0) squares += group_moments()[static_cast<size_t>(g)].col(1);
    }
    if (centred) centre = centres_[static_cast<size_t>(problem)];
    return binary_lbfgs_initial_inverse_hessian(squares, std::move(centre), weight_sum(problem),
                                                l2_weight(problem), passes().fit_intercept());
  }

  // Serves every request, all of one pass_kind: evaluations and Hessian-vector products, in any
  // mix, with one product pass over each group they use; Hessians' diagonals with one pass of
  // squared values over each; Hessians with one Gram pass over each.
  void serve(const std::vector<Request*>& requests) {
    if (requests.empty()) return;
    const int kind = pass_kind(requests.front()->ask);
    for (const Request* request : requests) {
      if (pass_kind(request->ask) != kind) {
        throw std::logic_error("requests of different kinds of passes served together");
      }
      if (request->ask != Ask::Evaluate &&
          (!request->keep_curvature ||
           kept_for_[static_cast<size_t>(request->slot)] != request->problem)) {
        throw std::logic_error("second derivatives need keep_curvature(true) before evaluate()");
      }
    }
    if (requests.front()->ask == Ask::Hessian) {
      serve_hessians(requests);
    } else if (requests.front()->ask == Ask::HessianDiagonal) {
      serve_diagonals(requests);
    } else {
      serve_products(requests);
    }
  }

 private:
  // f and the gradient at each Evaluate request's point, H v for each HessianProduct request.
  void serve_products(const std::vector<Request*>& requests) {
    for (const Request* request : requests) {
      if (request->ask != Ask::Evaluate || !request->keep_curvature) continue;
      curvature_[static_cast<size_t>(request->slot)].resize(n_rows(request->problem));
      kept_for_[static_cast<size_t>(request->slot)] = request->problem;
    }
    for_used_groups(requests, [&](int g) {
      Group& group = groups_[static_cast<size_t>(g)];
      const int n = static_cast<int>(group.members.size());
      set_units(requests, group, group.coef, group.intercept);
      set_roles(requests, g, group);
      const KernelTable<Scalar>& kernels = group.passes.kernels();
      const Scalar* b = passes().fit_intercept() ? group.intercept.data() : nullptr;
      group.passes.product_pass(group.coef, group.intercept, n, n,
                                [&](const typename Passes::Chunk& chunk) {
        const BinaryUnits<Scalar> units{group.positive.data(), group.curvature.data(), chunk.first};
        if (chunk.X) {
          kernels.binary_units_scores_loss(*chunk.X, group.coef.data(), b, n, units, chunk.labels,
                                           chunk.weights, chunk.losses, chunk.Z, chunk.sums);
        } else {
          kernels.binary_units_loss(chunk.Z, chunk.count, n, units, chunk.labels, chunk.weights,
                                    chunk.losses);
        }
      }, Passes::Scoring::ByTransform);
    });
    add_up_sums(requests, true);
    finish_sums(requests);
    for (size_t j = 0; j < requests.size(); ++j) {
      Request& request = *requests[j];
      if (request.ask != Ask::Evaluate) continue;
      const auto w = request.input->head(passes().n_features());
      request.value = losses_[static_cast<Index>(j)] / weight_sum(request.problem) +
                      0.5 * l2_weight(request.problem) * w.squaredNorm();
    }
  }

  // The Hessian's diagonal of every request's problem, in the coordinates precondition() takes:
  // with Y = X - 1 c^T for its centre c, the sums of its curvature times Y^2 over its groups,
  // over S_p, plus the L2 term's. Problems sharing a group have different centres, so the
  // groups' passes take the moments of X and X^2, and Y^2 follows from them.
  void serve_diagonals(const std::vector<Request*>& requests) {
    const Index d = passes().n_features();
    const bool centred = !Passes::kSparse && passes().fit_intercept();
    if (centred && centres_.empty()) set_centres();
    // Per request, its curvature summed against X^2 and, when centred, against X.
    Eigen::MatrixXd squares_W, firsts_W;
    for (bool squared : {true, false}) {
      if (!squared && !centred) break;
      for_used_groups(requests, [&](int g) {
        Group& group = groups_[static_cast<size_t>(g)];
        const Index n = static_cast<Index>(group.members.size());
        group.passes.weighted_moment_pass(
            static_cast<int>(n), squared, nullptr,
            [&](Index first, Index count, const double*, Scalar* D) {
          for (Index u = 0; u < n; ++u) {
            const Request& request = *requests[static_cast<size_t>(group.members[u])];
            Eigen::Map<Vector<Scalar>, 0, Eigen::InnerStride<>>(D + u, count,
                                                                Eigen::InnerStride<>(n)) =
                Eigen::Map<const Vector<Scalar>>(curvature_of(request, g) + first, count);
          }
        });
      });
      add_up_sums(requests, false);
      (squared ? squares_W : firsts_W) = sums_W_;
    }
    for (size_t j = 0; j < requests.size(); ++j) {
      const int problem = requests[j]->problem;
      const Index column = static_cast<Index>(j);
      Eigen::VectorXd& diagonal = *requests[j]->vector_out;
      const double S = weight_sum(problem), curvature = sums_b_[column];
      auto diagonal_W = diagonal.head(d);
      diagonal_W = squares_W.col(column);
      if (centred) {
        // sum c (x - m)^2 = sum c x^2 - 2 m sum c x + m^2 sum c
        const Eigen::VectorXd& m = centres_[static_cast<size_t>(problem)];
        diagonal_W.array() +=
            m.array() * (m.array() * curvature - 2.0 * firsts_W.col(column).array());
      }
      diagonal_W = diagonal_W / S;
      diagonal_W.array() += l2_weight(problem);
      if (passes().fit_intercept()) diagonal[d] = curvature / S;
      floor_jacobi_diagonal(diagonal);
    }
  }

  // Each group's column_moments(), taken on the first call.
  const std::vector<Eigen::MatrixXd>& group_moments() {
    if (moments_.empty()) {
      for (Group& group : groups_) moments_.push_back(group.passes.column_moments());
    }
    return moments_;
  }

  // Each problem's centre: the weighted mean of its groups' rows.
  void set_centres() {
    for (size_t p = 0; p < problems_.size(); ++p) {
      Eigen::VectorXd centre = Eigen::VectorXd::Zero(passes().n_features());
      for (int g : problems_[p].groups) {
        if (g >= 0) centre += group_moments()[static_cast<size_t>(g)].col(0);
      }
      centres_.push_back(centre / weight_sum(static_cast<int>(p)));
    }
  }

  // The Hessian of every request's problem: the weighted Gram matrices of [X 1] over its groups.
  void serve_hessians(const std::vector<Request*>& requests) {
    const Index m = dimension();
    for_used_groups(requests, [&](int g) {
      Group& group = groups_[static_cast<size_t>(g)];
      const Index n = static_cast<Index>(group.members.size());
      group.grams = group.passes.gram_pass(
          n, group.gram_chunks_per_slab, [&](Index first, Index count, const double*, Scalar* D) {
        for (Index u = 0; u < n; ++u) {
          const Request& request = *requests[static_cast<size_t>(group.members[u])];
          Eigen::Map<Vector<Scalar>>(D + u * count, count) =
              Eigen::Map<const Vector<Scalar>>(curvature_of(request, g) + first, count);
        }
      });
    });
    for (Request* request : requests) request->matrix_out->setZero(m, m);
    for (int g : used_groups_) {
      const Group& group = groups_[static_cast<size_t>(g)];
      for (size_t u = 0; u < group.members.size(); ++u) {
        *requests[static_cast<size_t>(group.members[u])]->matrix_out +=
            group.grams.middleCols(static_cast<Index>(u) * m, m);
      }
    }
    for (Request* request : requests) {
      Eigen::MatrixXd& hessian = *request->matrix_out;
      hessian /= weight_sum(request->problem);
      hessian.diagonal().head(passes().n_features()).array() += l2_weight(request->problem);
    }
  }

  struct Group {
    explicit Group(Passes p) : passes(std::move(p)) {}
    Passes passes;
    Index gram_chunks_per_slab = 1;
    std::vector<int> members;  // the requests of the call that use the group, in request order
    typename Passes::Coef coef;  // their points or directions as units
    Vector<Scalar> intercept;
    std::vector<int> positive;         // their units' roles, as BinaryUnits takes them
    std::vector<Scalar*> curvature;
    Eigen::MatrixXd grams;  // their Gram matrices over the group, side by side
  };

  // Any group's passes, for what all share (features, intercept, kernels).
  const Passes& passes() const { return groups_.front().passes; }

  double weight_sum(int problem) const { return weight_sums_[static_cast<size_t>(problem)]; }

  double l2_weight(int problem) const {
    return (1.0 - l1_ratio_) * inverse_C_ / weight_sum(problem);
  }

  Index group_rows(int g) const { return groups_[static_cast<size_t>(g)].passes.n_rows(); }

  const int* groups_of(int problem) const { return problems_[static_cast<size_t>(problem)].groups; }

  Index n_rows(int problem) const {
    const int* groups = groups_of(problem);
    return group_rows(groups[0]) + (groups[1] >= 0 ? group_rows(groups[1]) : 0);
  }

  // Where the kept curvature of the request's problem on the rows of group g starts.
  Scalar* curvature_of(const Request& request, int g) {
    const int* groups = groups_of(request.problem);
    const Index offset = g == groups[0] ? 0 : group_rows(groups[0]);
    return curvature_[static_cast<size_t>(request.slot)].data() + offset;
  }

  // Lists in each group the requests that use it, then calls pass(g) for every group with any:
  // groups in parallel, or in turn (each pass threaded itself).
  template <class Pass>
  void for_used_groups(const std::vector<Request*>& requests, Pass&& pass) {
    for (Group& group : groups_) group.members.clear();
    for (size_t j = 0; j < requests.size(); ++j) {
      for (int g : problems_[static_cast<size_t>(requests[j]->problem)].groups) {
        if (g >= 0) groups_[static_cast<size_t>(g)].members.push_back(static_cast<int>(j));
      }
    }
    used_groups_.clear();
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (!groups_[g].members.empty()) used_groups_.push_back(static_cast<int>(g));
    }
    if (groups_in_parallel_) {
      pool_->run(static_cast<Index>(used_groups_.size()),
                 [&](Index t) { pass(used_groups_[static_cast<size_t>(t)]); });
    } else {
      for (int g : used_groups_) pass(g);
    }
  }

  // The group's requests' inputs as units, in member order.
  void set_units(const std::vector<Request*>& requests, const Group& group,
                 typename Passes::Coef& coef, Vector<Scalar>& intercept) const {
    const Index d = passes().n_features();
    group.passes.clear_units(static_cast<int>(group.members.size()), coef, intercept);
    for (size_t m = 0; m < group.members.size(); ++m) {
      const Eigen::VectorXd& input = *requests[static_cast<size_t>(group.members[m])]->input;
      group.passes.set_unit(static_cast<int>(m), input.data(),
                            passes().fit_intercept() ? input[d] : 0.0, coef, intercept);
    }
  }

  // The roles of the group's units in member order: an evaluation's unit takes the loss against
  // its problem's positive class, keeping the curvature if asked; a Hessian-vector product's
  // multiplies by the kept curvature.
  void set_roles(const std::vector<Request*>& requests, int g, Group& group) {
    group.positive.clear();
    group.curvature.clear();
    for (int member : group.members) {
      const Request& request = *requests[static_cast<size_t>(member)];
      const bool product = request.ask == Ask::HessianProduct;
      const int positive = problems_[static_cast<size_t>(request.problem)].positive;
      group.positive.push_back(product ? -1 : positive);
      group.curvature.push_back(product || request.keep_curvature ? curvature_of(request, g)
                                                                  : nullptr);
    }
  }

  // Each request's share of the last passes' sums, over its groups in order: [X 1]^T R and,
  // with_losses, the losses.
  void add_up_sums(const std::vector<Request*>& requests, bool with_losses) {
    const Index d = passes().n_features(), n = static_cast<Index>(requests.size());
    sums_W_.setZero(d, n);
    sums_b_.setZero(n);
    losses_.setZero(n);
    for (int g : used_groups_) {
      const Group& group = groups_[static_cast<size_t>(g)];
      const Index n_members = static_cast<Index>(group.members.size());
      group_W_.resize(d, n_members);
      group_b_.resize(n_members);
      group.passes.summed_products(group_W_, group_b_);
      const Eigen::VectorXd group_losses =
          with_losses ? group.passes.summed_losses() : Eigen::VectorXd::Zero(n_members);
      for (Index u = 0; u < n_members; ++u) {
        const Index j = group.members[static_cast<size_t>(u)];
        sums_W_.col(j) += group_W_.col(u);
        sums_b_[j] += group_b_[u];
        losses_[j] += group_losses[u];
      }
    }
  }

  // Each request's vector_out = its sums over S_p, plus the L2 term's derivative at its input
  // (a point for the gradient, a direction for H v).
  void finish_sums(const std::vector<Request*>& requests) const {
    const Index d = passes().n_features();
    for (size_t j = 0; j < requests.size(); ++j) {
      const Request& request = *requests[j];
      const double S = weight_sum(request.problem), l2 = l2_weight(request.problem);
      auto out_w = request.vector_out->head(d);
      out_w = sums_W_.col(static_cast<Index>(j)) / S;
      if (l2 > 0.0) out_w += l2 * request.input->head(d);
      if (passes().fit_intercept()) (*request.vector_out)[d] = sums_b_[static_cast<Index>(j)] / S;
    }
  }

  std::vector<BinaryProblem> problems_;
  std::vector<double> weight_sums_;  // S_p of each problem
  double inverse_C_;                 // 0 when C is infinite
  double l1_ratio_;
  ThreadPool* pool_;
  bool groups_in_parallel_;
  std::vector<Group> groups_;
  std::vector<int> used_groups_;  // by the current call, ascending
  Eigen::MatrixXd sums_W_, group_W_;
  Eigen::VectorXd sums_b_, group_b_, losses_;
  // Per slot: the curvature of its problem's rows (group by group) at its last evaluated point,
  // sized when the problem first asks to keep it, and which problem that was.
  std::vector<Vector<Scalar>> curvature_;
  std::vector<int> kept_for_;
  // Per problem: the mean of its rows, for preconditioning; empty: not yet needed.
  std::vector<Eigen::VectorXd> centres_;
  // Per group: its rows' weighted column sums and sums of squares (column_moments), for the
  // centres and L-BFGS's H0; empty: not yet needed.
  std::vector<Eigen::MatrixXd> moments_;
};

}  // namespace multilogit::detail
