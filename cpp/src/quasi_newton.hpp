// What the limited-memory quasi-Newton solvers share: the correction pairs with the two-loop
// recursion.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include <Eigen/Core>

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

  // -H g by the two-loop recursion, H0 scaled by s.y / y.y of the newest pair.
  Eigen::VectorXd descent_direction(const Eigen::VectorXd& gradient) {
    Eigen::VectorXd q = gradient;
    alpha_.resize(pairs_.size());
    for (size_t i = pairs_.size(); i-- > 0;) {
      alpha_[i] = pairs_[i].rho * pairs_[i].s.dot(q);
      q -= alpha_[i] * pairs_[i].y;
    }
    if (!pairs_.empty()) {
      const Pair& newest = pairs_.back();
      q *= 1.0 / (newest.rho * newest.y.squaredNorm());
    }
    for (size_t i = 0; i < pairs_.size(); ++i) {
      const double beta = pairs_[i].rho * pairs_[i].y.dot(q);
      q += (alpha_[i] - beta) * pairs_[i].s;
    }
    return -q;
  }

 private:
  struct Pair {
    Eigen::VectorXd s, y;
    double rho;
  };
  size_t capacity_;
  std::deque<Pair> pairs_;
  std::vector<double> alpha_;
};

}  // namespace multilogit::detail
