// Newton's method with the full Hessian: the step solves H s = -g by a Cholesky factorisation
// (of H + shift I when rounding or a flat objective leaves H not numerically positive
// definite), then a backtracking line search on f takes the longest of 1, 1/2, 1/4, ... with
// sufficient decrease.
#include <algorithm>
#include <cmath>

#include <Eigen/Cholesky>

#include "multilogit/newton.hpp"
#include "solver_steps.hpp"

namespace multilogit {
namespace {

constexpr double kArmijo = 1e-4;
constexpr int kMaxBacktracks = 60;

// The solution of (H + shift I) s = -g for the smallest shift in 0, 1e-12 m, 1e-10 m, ...
// (m the largest diagonal entry of H) whose factorisation succeeds.
Eigen::VectorXd newton_step(Eigen::MatrixXd& hessian, const Eigen::VectorXd& gradient) {
  const double scale = std::max(hessian.diagonal().cwiseAbs().maxCoeff(), 1e-300);
  double shift = 0.0;
  Eigen::LLT<Eigen::MatrixXd> cholesky;
  for (int attempt = 0; attempt < 12; ++attempt) {
    cholesky.compute(hessian);
    if (cholesky.info() == Eigen::Success) {
      Eigen::VectorXd step = cholesky.solve(-gradient);
      if (step.allFinite()) return step;
    }
    const double next_shift = shift == 0.0 ? 1e-12 * scale : 100.0 * shift;
    hessian.diagonal().array() += next_shift - shift;
    shift = next_shift;
  }
  return -gradient;  // no usable factorisation: steepest descent
}

}  // namespace

SolverResult minimize_newton_cholesky(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                      const SolverSettings& settings) {
  Eigen::VectorXd gradient(w.size()), trial_gradient(w.size()), trial(w.size());
  Eigen::MatrixXd hessian;
  SolverResult result;
  if (detail::start_at(objective, w, gradient, settings.tol, result)) return result;

  result.status = SolverStatus::MaxIterations;
  while (result.n_iter < settings.max_iter) {
    objective.hessian(hessian);
    Eigen::VectorXd direction = newton_step(hessian, gradient);
    double slope = gradient.dot(direction);
    if (!(slope < 0.0)) {
      direction = -gradient;
      slope = -gradient.squaredNorm();
    }
    // The last point evaluated is the one accepted, where the next Hessian is taken.
    const double rounding = detail::rounding_of(objective, result.objective);
    bool accepted = false;
    double trial_value = 0.0;
    double step = 1.0;
    for (int k = 0; k < kMaxBacktracks && !accepted; ++k, step *= 0.5) {
      trial = w + step * direction;
      trial_value = objective.evaluate(trial, trial_gradient);
      ++result.n_evaluations;
      accepted = detail::accept_newton_trial(result.objective, trial_value, -kArmijo * step * slope,
                                      rounding, result.gradient_norm,
                                      [&] { return trial_gradient.lpNorm<Eigen::Infinity>(); });
    }
    if (!accepted) {
      result.status = SolverStatus::LineSearchFailed;
      break;
    }
    if (detail::accept_newton_step(w, gradient, trial, trial_gradient, trial_value, result,
                                   settings)) {
      break;
    }
  }
  return result;
}

}  // namespace multilogit
