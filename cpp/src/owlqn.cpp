// OWL-QN (Andrew & Gao 2007): L-BFGS for f(w) + sum_i l1_i |w_i| with f smooth. Directions
// come from the pseudo-gradient, are kept in the orthant of steepest descent, and every trial
// point is projected back onto the orthant of the current iterate, so coefficients reach
// exact zeros.
#include <cmath>
#include <limits>

#include "quasi_newton.hpp"
#include "multilogit/lbfgs.hpp"

namespace multilogit {
namespace {

constexpr double kArmijo = 1e-4;
constexpr int kMaxBacktracks = 60;
constexpr int kMaxStalls = 20;  // iterations in a row without a decrease beyond rounding

// The minimum-norm subgradient of F = f + sum l1_i |w_i| at w.
Eigen::VectorXd pseudo_gradient(const Eigen::VectorXd& w, const Eigen::VectorXd& g,
                                const Eigen::VectorXd& l1) {
  Eigen::VectorXd pg(w.size());
  for (Eigen::Index i = 0; i < w.size(); ++i) {
    if (w[i] > 0) {
      pg[i] = g[i] + l1[i];
    } else if (w[i] < 0) {
      pg[i] = g[i] - l1[i];
    } else if (g[i] + l1[i] < 0) {
      pg[i] = g[i] + l1[i];
    } else if (g[i] - l1[i] > 0) {
      pg[i] = g[i] - l1[i];
    } else {
      pg[i] = 0;
    }
  }
  return pg;
}

double penalised(double f, const Eigen::VectorXd& w, const Eigen::VectorXd& l1) {
  return f + l1.cwiseProduct(w.cwiseAbs()).sum();
}

}  // namespace

SolverResult minimize_owlqn(Objective& objective, Eigen::VectorXd& w, const Eigen::VectorXd& l1,
                            const LbfgsSettings& settings) {
  Eigen::VectorXd gradient(w.size()), trial_gradient(w.size());
  SolverResult result;
  double f = objective.evaluate(w, gradient);
  ++result.n_evaluations;
  result.objective = penalised(f, w, l1);
  Eigen::VectorXd pg = pseudo_gradient(w, gradient, l1);
  result.gradient_norm = pg.lpNorm<Eigen::Infinity>();
  if (const auto status = detail::status_at_start(result, gradient, settings.tol)) {
    result.status = *status;
    return result;
  }

  detail::CurvatureHistory history(settings.memory);
  int stalled = 0;
  result.status = SolverStatus::MaxIterations;
  while (result.n_iter < settings.max_iter) {
    Eigen::VectorXd direction = history.descent_direction(pg);
    // Keep only the components that agree in sign with steepest descent.
    for (Eigen::Index i = 0; i < w.size(); ++i) {
      if (direction[i] * pg[i] >= 0) direction[i] = 0;
    }
    if (direction.squaredNorm() == 0.0) {
      history.clear();
      direction = -pg;
    }
    // The orthant the new point must stay in: that of w, or of the descent direction at zero.
    Eigen::VectorXd orthant(w.size());
    for (Eigen::Index i = 0; i < w.size(); ++i) {
      orthant[i] = w[i] != 0 ? (w[i] > 0 ? 1.0 : -1.0) : (pg[i] < 0 ? 1.0 : (pg[i] > 0 ? -1.0 : 0.0));
    }

    double step = history.empty() ? 1.0 / std::max(direction.norm(), 1e-300) : 1.0;
    Eigen::VectorXd trial(w.size());
    double trial_f = 0.0, trial_objective = 0.0;
    bool accepted = false;
    const double rounding = detail::rounding_of(objective, result.objective);
    for (int k = 0; k < kMaxBacktracks && !accepted; ++k, step *= 0.5) {
      trial = w + step * direction;
      for (Eigen::Index i = 0; i < w.size(); ++i) {
        if (trial[i] * orthant[i] <= 0) trial[i] = 0;
      }
      trial_f = objective.evaluate(trial, trial_gradient);
      ++result.n_evaluations;
      trial_objective = penalised(trial_f, trial, l1);
      if (!std::isfinite(trial_objective)) continue;
      const double decrease = pg.dot(trial - w);  // negative along a descent step
      accepted = trial_objective <= result.objective + kArmijo * decrease;
      if (!accepted && -kArmijo * decrease <= rounding && trial_objective <= result.objective) {
        // The decrease asked for is below the rounding of F: judge the step by the
        // pseudo-gradient instead, which must shrink.
        accepted = pseudo_gradient(trial, trial_gradient, l1).lpNorm<Eigen::Infinity>() <
                   result.gradient_norm;
      }
    }
    if (!accepted) {
      result.status = SolverStatus::LineSearchFailed;
      break;
    }
    if (result.objective - trial_objective <= rounding) {
      // No decrease beyond rounding: the curvature pairs no longer help, and the orthant
      // constraint may be blocking the components that matter. Restart from steepest descent.
      if (++stalled > kMaxStalls) {
        result.status = SolverStatus::LineSearchFailed;
        break;
      }
      history.clear();
    } else {
      stalled = 0;
      history.add(trial - w, trial_gradient - gradient);
    }
    w.swap(trial);
    gradient.swap(trial_gradient);
    f = trial_f;
    result.objective = trial_objective;
    pg = pseudo_gradient(w, gradient, l1);
    result.gradient_norm = pg.lpNorm<Eigen::Infinity>();
    if (detail::finish_iteration(result, settings)) break;
  }
  return result;
}

}  // namespace multilogit
