// What the limited-memory quasi-Newton solvers share: the correction pairs with the two-loop
// recursion.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "kernels/kernels.hpp"
#include "multilogit/lbfgs.hpp"
#include "solver_steps.hpp"

namespace multilogit::detail {

// L-BFGS's initial inverse Hessian before its scaling: q becomes H0 q in place, for a fixed
// symmetric positive definite H0.
using InverseHessianGuess = std::function<void(Eigen::VectorXd&)>;

// The most recent correction pairs (s, y) with rho = 1 / (s . y), and H0 (empty: the identity).
class CurvatureHistory {
 public:
  explicit CurvatureHistory(int capacity, InverseHessianGuess initial = {})
      : capacity_(static_cast<size_t>(std::max(capacity, 1))), initial_(std::move(initial)) {}

  void add(Eigen::VectorXd s, Eigen::VectorXd y) {
    const double sy = s.dot(y);
    // Skip pairs that would break positive definiteness (or are lost in rounding).
    if (!(sy > 1e-12 * y.squaredNorm())) return;
    if (pairs_.size() == capacity_) pairs_.pop_front();
    // H0's scale for the newest pair: s.y / y.H0 y, which fits H0 to the curvature along y.
    double y_h0_y = y.squaredNorm();
    if (initial_) {
      Eigen::VectorXd h0_y = y;
      initial_(h0_y);
      y_h0_y = y.dot(h0_y);
    }
    scale_ = sy / y_h0_y;
    pairs_.push_back({std::move(s), std::move(y), 1.0 / sy});
  }

  void clear() { pairs_.clear(); }
  bool empty() const { return pairs_.empty(); }

  // -H g by the two-loop recursion with H0 scaled as add() says (unscaled with no pairs), in the
  // kernels' wide packets: the recursion reads every pair twice per iteration.
  Eigen::VectorXd descent_direction(const Eigen::VectorXd& gradient) {
    Eigen::VectorXd q = gradient;
    const size_t count = pairs_.size();
    s_.resize(count);
    y_.resize(count);
    rho_.resize(count);
    alpha_.resize(count);
    for (size_t i = 0; i < count; ++i) {
      s_[i] = pairs_[i].s.data();
      y_[i] = pairs_[i].y.data();
      rho_[i] = pairs_[i].rho;
    }
    const KernelTable<double>& kernels = detail::kernels<double>();
    const auto n_pairs = static_cast<KernelIndex>(count);
    kernels.two_loop_first(s_.data(), y_.data(), rho_.data(), n_pairs, q.size(), alpha_.data(),
                           q.data());
    if (initial_) initial_(q);
    if (count) q *= scale_;
    kernels.two_loop_second(s_.data(), y_.data(), rho_.data(), alpha_.data(), n_pairs, q.size(),
                            q.data());
    return -q;
  }

 private:
  struct Pair {
    Eigen::VectorXd s, y;
    double rho;
  };
  size_t capacity_;
  InverseHessianGuess initial_;
  double scale_ = 1.0;  // H0's scale, from the newest pair
  std::deque<Pair> pairs_;
  std::vector<const double*> s_, y_;  // the pairs' vectors, for the kernel
  std::vector<double> rho_, alpha_;
};

}  // namespace multilogit::detail
