// L-BFGS (Nocedal & Wright, Algorithm 7.5) with the strong Wolfe line search of their
// Algorithms 3.5 and 3.6 (bracketing, then zoom by safeguarded cubic interpolation).
#include "multilogit/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quasi_newton.hpp"

namespace multilogit {
namespace {

constexpr double kArmijo = 1e-4;     // sufficient decrease
constexpr double kCurvature = 0.9;   // strong Wolfe curvature
constexpr int kMaxLineSearchEvaluations = 40;

// f and its derivative along the search direction at step a.
struct LinePoint {
  double step = 0.0;
  double value = 0.0;
  double slope = 0.0;
};

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

// Evaluates f along w + step * direction. Remembers the lowest point satisfying sufficient
// decrease, so that a search cut short can still return a strict decrease.
class LineSearch {
 public:
  // `lowest` is the lowest value of f reached so far, at most `value`, the value at w.
  LineSearch(Objective& objective, const Eigen::VectorXd& w, const Eigen::VectorXd& direction,
             double value, double slope, double lowest)
      : objective_(objective), w_(w), direction_(direction), origin_{0.0, value, slope},
        lowest_(lowest), trial_(w.size()), trial_gradient_(w.size()) {}

  // Returns true when a step was taken; then `w`, `gradient` and `value` hold the new point.
  // The step satisfies the strong Wolfe conditions or, once rounding hides any further decrease
  // of f, the approximate Wolfe conditions of Hager & Zhang (2005).
  bool run(double initial_step, Eigen::VectorXd& w, Eigen::VectorXd& gradient, double& value) {
    LinePoint previous = origin_;
    double step = initial_step;
    while (evaluations_ < kMaxLineSearchEvaluations) {
      const LinePoint current = evaluate(step);
      if (wolfe(current)) return take_trial(w, gradient, value);
      if (!sufficient_decrease(current) || (previous.step > 0.0 && current.value >= previous.value)) {
        return zoom(previous, current, w, gradient, value);
      }
      if (current.slope >= 0.0) return zoom(current, previous, w, gradient, value);
      previous = current;
      step *= 4.0;
    }
    return take_best(w, gradient, value);
  }

 private:
  // lo satisfies sufficient decrease with the lowest value seen; the minimiser lies between.
  bool zoom(LinePoint lo, LinePoint hi, Eigen::VectorXd& w, Eigen::VectorXd& gradient,
            double& value) {
    while (evaluations_ < kMaxLineSearchEvaluations &&
           std::abs(hi.step - lo.step) > 1e-16 * std::max(lo.step, hi.step)) {
      const LinePoint current = evaluate(cubic_step(lo, hi));
      if (wolfe(current)) return take_trial(w, gradient, value);
      if (!sufficient_decrease(current) || current.value >= lo.value) {
        hi = current;
      } else {
        if (current.slope * (hi.step - lo.step) >= 0.0) hi = lo;
        lo = current;
      }
    }
    return take_best(w, gradient, value);
  }

  LinePoint evaluate(double step) {
    ++evaluations_;
    trial_ = w_ + step * direction_;
    double value = objective_.evaluate(trial_, trial_gradient_);
    if (!std::isfinite(value)) value = std::numeric_limits<double>::infinity();
    trial_point_ = LinePoint{step, value, trial_gradient_.dot(direction_)};
    if (sufficient_decrease(trial_point_) && trial_point_.value < origin_.value &&
        (!has_best_ || trial_point_.value < best_.value)) {
      best_ = trial_point_;
      best_w_ = trial_;
      best_gradient_ = trial_gradient_;
      has_best_ = true;
    }
    return trial_point_;
  }

  bool sufficient_decrease(const LinePoint& p) const {
    return p.value <= origin_.value + kArmijo * p.step * origin_.slope;
  }

  bool wolfe(const LinePoint& p) const {
    if (sufficient_decrease(p) && std::abs(p.slope) <= -kCurvature * origin_.slope) return true;
    // Approximate Wolfe: f equal to the lowest value so far up to rounding, and the slope
    // flattened as the Wolfe conditions ask. Bounding by the lowest value rather than by f at
    // the origin keeps rounding-sized increases from adding up over iterations.
    const double rounding = detail::rounding_of(objective_, lowest_);
    return p.value <= lowest_ + rounding && p.slope >= kCurvature * origin_.slope &&
           p.slope <= (2.0 * kArmijo - 1.0) * origin_.slope;
  }

  bool take_trial(Eigen::VectorXd& w, Eigen::VectorXd& gradient, double& value) {
    w = trial_;
    gradient = trial_gradient_;
    value = trial_point_.value;
    return true;
  }

  bool take_best(Eigen::VectorXd& w, Eigen::VectorXd& gradient, double& value) {
    if (!has_best_) return false;
    w = best_w_;
    gradient = best_gradient_;
    value = best_.value;
    return true;
  }

  Objective& objective_;
  const Eigen::VectorXd& w_;
  const Eigen::VectorXd& direction_;
  const LinePoint origin_;
  const double lowest_;
  Eigen::VectorXd trial_, trial_gradient_;
  LinePoint trial_point_;
  LinePoint best_;
  Eigen::VectorXd best_w_, best_gradient_;
  bool has_best_ = false;
  int evaluations_ = 0;
};


}  // namespace

SolverResult minimize_lbfgs(Objective& objective, Eigen::VectorXd& w,
                            const LbfgsSettings& settings) {
  Eigen::VectorXd gradient(w.size());
  SolverResult result;
  if (detail::start_at(objective, w, gradient, settings.tol, result)) return result;

  detail::CurvatureHistory history(settings.memory);
  double lowest = result.objective;
  Eigen::VectorXd previous_w, previous_gradient;
  result.status = SolverStatus::MaxIterations;
  while (result.n_iter < settings.max_iter) {
    Eigen::VectorXd direction = history.descent_direction(gradient);
    double slope = gradient.dot(direction);
    if (!(slope < 0.0)) {  // lost descent through rounding: restart from steepest descent
      history.clear();
      direction = -gradient;
      slope = -gradient.squaredNorm();
    }
    // Without curvature information the scale of a step is unknown: start with unit length.
    const double initial_step = history.empty() ? 1.0 / direction.norm() : 1.0;

    previous_w = w;
    previous_gradient = gradient;
    LineSearch search(objective, previous_w, direction, result.objective, slope, lowest);
    if (!search.run(initial_step, w, gradient, result.objective)) {
      result.status = SolverStatus::LineSearchFailed;
      break;
    }
    lowest = std::min(lowest, result.objective);
    result.gradient_norm = gradient.lpNorm<Eigen::Infinity>();
    if (detail::finish_iteration(result, settings)) break;
    history.add(w - previous_w, gradient - previous_gradient);
  }
  return result;
}

}  // namespace multilogit
