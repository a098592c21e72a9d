// L-BFGS (Nocedal & Wright, Algorithm 7.5) with the strong Wolfe line search of their
// Algorithms 3.5 and 3.6 (bracketing, then zoom by safeguarded cubic interpolation), in steps
// (lbfgs_steps.hpp).
#include "multilogit/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "lbfgs_steps.hpp"

namespace multilogit {
namespace {

using detail::LinePoint;

constexpr double kArmijo = 1e-4;     // sufficient decrease
constexpr double kCurvature = 0.9;   // strong Wolfe curvature
constexpr int kMaxLineSearchEvaluations = 40;

// Minimiser of the cubic interpolating (a.step, a.value, a.slope) and (b.step, ...), kept
// inside the middle 80% of the interval so the bracket always shrinks.
double cubic_step(const LinePoint& a, const LinePoint& b) {
  const double lo = std::min(a.step, b.step), hi = std::max(a.step, b.step);
  const double margin = 0.1 * (hi - lo);
  const double d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
  const double radicand = d1 * d1 - a.slope * b.slope;
  double step = 0.5 * (lo + hi);
  if (radicand >= 0.0 && std::isfinite(radicand)) {
    const double d2 = std::copysign(std::sqrt(radicand), b.step - a.step);
    const double denominator = b.slope - a.slope + 2.0 * d2;
    if (denominator != 0.0) {
      const double candidate = b.step - (b.step - a.step) * (b.slope + d2 - d1) / denominator;
      if (std::isfinite(candidate)) step = candidate;
    }
  }
  return std::clamp(step, lo + margin, hi - margin);
}

}  // namespace

namespace detail {

LbfgsSteps::LbfgsSteps(Eigen::VectorXd w, const LbfgsSettings& settings,
                       double relative_precision)
    : settings_(settings),
      relative_precision_(relative_precision),
      history_(settings.memory, settings.initial_inverse_hessian),
      w_(std::move(w)),
      trial_(w_),
      trial_gradient_(w_.size()) {}

bool LbfgsSteps::tell(double value) {
  ++result_.n_evaluations;
  switch (stage_) {
    case Stage::Start: {
      gradient_ = trial_gradient_;
      result_.objective = value;
      result_.gradient_norm = gradient_.lpNorm<Eigen::Infinity>();
      if (const auto status = status_at_start(result_, gradient_, settings_.tol)) {
        return finish(*status);
      }
      lowest_ = value;
      return begin_iteration();
    }
    case Stage::Bracket:
      return bracket(take_trial_point(value));
    case Stage::Zoom:
      return zoom(take_trial_point(value));
    case Stage::Done:
      break;
  }
  return false;
}

// The next direction from the curvature pairs, and the line search's first step along it.
bool LbfgsSteps::begin_iteration() {
  if (result_.n_iter >= settings_.max_iter) return finish(SolverStatus::MaxIterations);
  direction_ = history_.descent_direction(gradient_);
  double slope = gradient_.dot(direction_);
  if (!(slope < 0.0)) {  // lost descent through rounding: restart from steepest descent
    history_.clear();
    direction_ = -gradient_;
    slope = -gradient_.squaredNorm();
  }
  origin_ = LinePoint{0.0, result_.objective, slope};
  previous_ = origin_;
  evaluations_ = 0;
  has_best_ = false;
  stage_ = Stage::Bracket;
  // Without curvature information the scale of a step is unknown: start with unit length.
  return propose(history_.empty() ? 1.0 / direction_.norm() : 1.0);
}

// Asks for f at w + step * direction.
bool LbfgsSteps::propose(double step) {
  ++evaluations_;
  trial_step_ = step;
  trial_ = w_ + step * direction_;
  return true;
}

LinePoint LbfgsSteps::take_trial_point(double value) {
  if (!std::isfinite(value)) value = std::numeric_limits<double>::infinity();
  const LinePoint point{trial_step_, value, trial_gradient_.dot(direction_)};
  if (sufficient_decrease(point) && point.value < origin_.value &&
      (!has_best_ || point.value < best_.value)) {
    best_ = point;
    best_w_ = trial_;
    best_gradient_ = trial_gradient_;
    has_best_ = true;
  }
  return point;
}

// Nocedal & Wright's Algorithm 3.5: steps grow fourfold until one satisfies the Wolfe
// conditions or brackets a minimiser.
bool LbfgsSteps::bracket(const LinePoint& current) {
  if (wolfe(current)) return move_to(trial_, trial_gradient_, current.value);
  if (!sufficient_decrease(current) ||
      (previous_.step > 0.0 && current.value >= previous_.value)) {
    lo_ = previous_;
    hi_ = current;
    stage_ = Stage::Zoom;
    return zoom_step();
  }
  if (current.slope >= 0.0) {
    lo_ = current;
    hi_ = previous_;
    stage_ = Stage::Zoom;
    return zoom_step();
  }
  previous_ = current;
  if (evaluations_ >= kMaxLineSearchEvaluations) return end_search();
  return propose(4.0 * current.step);
}

// Algorithm 3.6: lo satisfies sufficient decrease with the lowest value seen, and the minimiser
// lies between lo and hi.
bool LbfgsSteps::zoom(const LinePoint& current) {
  if (wolfe(current)) return move_to(trial_, trial_gradient_, current.value);
  if (!sufficient_decrease(current) || current.value >= lo_.value) {
    hi_ = current;
  } else {
    if (current.slope * (hi_.step - lo_.step) >= 0.0) hi_ = lo_;
    lo_ = current;
  }
  return zoom_step();
}

bool LbfgsSteps::zoom_step() {
  if (evaluations_ < kMaxLineSearchEvaluations &&
      std::abs(hi_.step - lo_.step) > 1e-16 * std::max(lo_.step, hi_.step)) {
    return propose(cubic_step(lo_, hi_));
  }
  return end_search();
}

// A search cut short takes its best trial, if any decreased f enough.
bool LbfgsSteps::end_search() {
  if (!has_best_) return finish(SolverStatus::LineSearchFailed);
  return move_to(best_w_, best_gradient_, best_.value);
}

// Ends the iteration at the accepted point and, unless that ends the solve, begins the next.
bool LbfgsSteps::move_to(const Eigen::VectorXd& w, const Eigen::VectorXd& gradient,
                         double value) {
  Eigen::VectorXd s = w - w_, y = gradient - gradient_;
  w_ = w;
  gradient_ = gradient;
  result_.objective = value;
  lowest_ = std::min(lowest_, value);
  result_.gradient_norm = gradient_.lpNorm<Eigen::Infinity>();
  if (finish_iteration(result_, settings_)) return finish(SolverStatus::Converged);
  history_.add(std::move(s), std::move(y));
  return begin_iteration();
}

bool LbfgsSteps::finish(SolverStatus status) {
  result_.status = status;
  stage_ = Stage::Done;
  return false;
}

bool LbfgsSteps::sufficient_decrease(const LinePoint& p) const {
  return p.value <= origin_.value + kArmijo * p.step * origin_.slope;
}

bool LbfgsSteps::wolfe(const LinePoint& p) const {
  if (sufficient_decrease(p) && std::abs(p.slope) <= -kCurvature * origin_.slope) return true;
  // Approximate Wolfe: f equal to the lowest value so far up to rounding, and the slope
  // flattened as the Wolfe conditions ask. Bounding by the lowest value rather than by f at
  // the origin keeps rounding-sized increases from adding up over iterations.
  const double rounding = rounding_of(relative_precision_, lowest_);
  return p.value <= lowest_ + rounding && p.slope >= kCurvature * origin_.slope &&
         p.slope <= (2.0 * kArmijo - 1.0) * origin_.slope;
}

}  // namespace detail

SolverResult minimize_lbfgs(Objective& objective, Eigen::VectorXd& w,
                            const LbfgsSettings& settings) {
  detail::LbfgsSteps steps(w, settings, objective.relative_precision());
  while (steps.tell(objective.evaluate(steps.point(), steps.gradient_room()))) {
  }
  w = steps.solution();
  return steps.result();
}

}  // namespace multilogit
