// What the solvers do the same way: how they start, how they tell rounding from a decrease of f,
// how the Newton methods judge a trial point, and how an iteration ends.
#pragma once

#include <cmath>
#include <optional>

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/solver.hpp"

namespace multilogit::detail {

// Differences of f within this many units of its relative precision are taken as rounding.
constexpr double kRoundingMargin = 64.0;

// The rounding of values of f near `value`, for values of `relative_precision`.
inline double rounding_of(double relative_precision, double value) {
  return kRoundingMargin * relative_precision * std::abs(value);
}

inline double rounding_of(const Objective& objective, double value) {
  return rounding_of(objective.relative_precision(), value);
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

// The start of a solver of the smooth f: evaluates f and its gradient at w into `result` and
// `gradient`; returns true, with result's status set, when there is nothing to iterate.
inline bool start_at(Objective& objective, const Eigen::VectorXd& w, Eigen::VectorXd& gradient,
                     double tol, SolverResult& result) {
  result.objective = objective.evaluate(w, gradient);
  ++result.n_evaluations;
  result.gradient_norm = gradient.lpNorm<Eigen::Infinity>();
  const std::optional<SolverStatus> status = status_at_start(result, gradient, tol);
  if (status) result.status = *status;
  return status.has_value();
}

// Whether a trial point of a Newton method is progress from the current point, of value
// `value` and gradient max-norm `norm`: f must drop by at least `wanted` (> 0) when that is
// beyond the `rounding` of f. Below it, a drop beyond rounding is progress all the same. Smaller
// differences of f are rounding, which would let noise accept steps for ever: the trial must then
// keep f within rounding and shrink the gradient well (to below kShrink times norm; trial_norm()
// computes the trial's), as a Newton step does until the gradient is down to its own rounding.
template <class TrialNorm>
bool accept_newton_trial(double value, double trial, double wanted, double rounding, double norm,
                         TrialNorm&& trial_norm) {
  constexpr double kShrink = 0.9;
  if (!std::isfinite(trial)) return false;
  if (wanted > rounding) return trial <= value - wanted;
  if (value - trial > rounding) return true;
  return trial <= value + rounding && trial_norm() < kShrink * norm;
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

// Moves a Newton method to its accepted trial point (value, gradient) and ends the iteration as
// finish_iteration does.
inline bool accept_newton_step(Eigen::VectorXd& w, Eigen::VectorXd& gradient,
                               Eigen::VectorXd& trial, Eigen::VectorXd& trial_gradient,
                               double trial_value, SolverResult& result,
                               const SolverSettings& settings) {
  w.swap(trial);
  gradient.swap(trial_gradient);
  result.objective = trial_value;
  result.gradient_norm = gradient.lpNorm<Eigen::Infinity>();
  return finish_iteration(result, settings);
}

}  // namespace multilogit::detail
