// What the limited-memory quasi-Newton solvers share: the correction pairs with the two-loop
// recursion.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include <Eigen/Core>

#include "kernels/kernels.hpp"
#include "multilogit/lbfgs.hpp"
#include "solver_steps.hpp"

namespace multilogit::detail {

// The most recent correction pairs (s, y) with rho = 1 / (s . y).
class CurvatureHistory {
 public:
  explicit CurvatureHistory(int capacity) : capacity_(static_cast<size_t>(std::max(capacity, 1))) {}

  void add(Eigen::VectorXd s, Eigen::VectorXd y) {
    const double sy = s.dot(y);
    // Skip pairs that would break positive definiteness (or are lost in rounding).
    if (!(sy > 1e-12 * y.squaredNorm())) return;
    if (pairs_.size() == capacity_) pairs_.pop_front();
    pairs_.push_back({std::move(s), std::move(y), 1.0 / sy});
  }

  void clear() { pairs_.clear(); }
  bool empty() const { return pairs_.empty(); }

  // -H g by the two-loop recursion, H0 scaled by s.y / y.y of the newest pair, in the kernels'
  // wide packets: the recursion reads every pair twice per iteration.
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
    const double gamma =
        count ? 1.0 / (pairs_.back().rho * pairs_.back().y.squaredNorm()) : 1.0;
    kernels<double>().two_loop_recursion(s_.data(), y_.data(), rho_.data(),
                                         static_cast<KernelIndex>(count), gamma, q.size(),
                                         alpha_.data(), q.data());
    return -q;
  }

 private:
  struct Pair {
    Eigen::VectorXd s, y;
    double rho;
  };
  size_t capacity_;
  std::deque<Pair> pairs_;
  std::vector<const double*> s_, y_;  // the pairs' vectors, for the kernel
  std::vector<double> rho_, alpha_;
};

}  // namespace multilogit::detail
