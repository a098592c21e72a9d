// What every solver does the same way: how it starts, how it judges a trial point once rounding
// hides the decrease of f, and how it ends an iteration.
#pragma once

#include <cmath>
#include <optional>

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/solver.hpp"

namespace multilogit::detail {

// Differences of f within this many units of its relative precision are taken as rounding.
constexpr double kRoundingMargin = 64.0;

// The rounding of values of f near `value`.
inline double rounding_of(const Objective& objective, double value) {
  return kRoundingMargin * objective.relative_precision() * std::abs(value);
}

// How a solver ends before its first step: Converged when `result.gradient_norm` (the solver's
// first-order measure at the start) is already within tol, LineSearchFailed when f or the
// gradient is not finite; nothing when it should iterate.
inline std::optional<SolverStatus> status_at_start(const SolverResult& result,
                                                   const Eigen::VectorXd& gradient, double tol) {
  if (!std::isfinite(result.objective) || !gradient.allFinite()) {
    return SolverStatus::LineSearchFailed;
  }
  if (result.gradient_norm <= tol) return SolverStatus::Converged;
  return std::nullopt;
}

// Once rounding hides the decrease of f, a Newton step still shrinks the gradient by a large
// factor unless the gradient is down to its rounding: accepted steps must shrink it by this.
constexpr double kNewtonShrink = 0.9;

// Whether a trial point with value `trial` is progress from `value`: a decrease of at least
// `wanted` (> 0), or, when that is below the `rounding` of f, no increase beyond rounding and a
// first-order measure below `shrink` (<= 1) times `norm`, the current one (trial_norm() computes
// the trial's). A shrink below 1 ends the iterations once the gradient is down to its own
// rounding, rather than letting them take steps that only reshuffle that rounding.
template <class TrialNorm>
bool accept_trial(double value, double trial, double wanted, double rounding, double norm,
                  double shrink, TrialNorm&& trial_norm) {
  if (!std::isfinite(trial)) return false;
  if (trial <= value - wanted) return true;
  return wanted <= rounding && trial <= value + rounding && trial_norm() < shrink * norm;
}

// Counts and reports the iteration that reached result's objective and gradient_norm; returns
// true, with status Converged, when that norm is within tol.
inline bool finish_iteration(SolverResult& result, const SolverSettings& settings) {
  ++result.n_iter;
  if (settings.on_iteration) {
    settings.on_iteration(result.n_iter, result.objective, result.gradient_norm);
  }
  if (result.gradient_norm > settings.tol) return false;
  result.status = SolverStatus::Converged;
  return true;
}

}  // namespace multilogit::detail
