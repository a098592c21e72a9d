// Trust-region Newton (Lin, Weng & Keerthi 2008, after Moré & Sorensen): each step minimises
// the quadratic model g.s + s.H s / 2 inside ||s||_M <= radius by conjugate gradients
// preconditioned by the objective's M (Hsia, Chiang & Lin 2018; the identity unless it offers
// one), stopped early at the region's boundary or on negative curvature (Steihaug 1983), or
// once the residual is small relative to the gradient: an inexact Newton step with forcing term
// clamp(sqrt(||g||), 0.1, 0.5). sqrt(||g||) alone would keep convergence superlinear, but near
// the optimum of an ill-conditioned problem it asks CG for hundreds of iterations per step; the
// floor of 0.1 trades those for a few more, cheaper outer steps. After a rejected step the floor
// is dropped: near the optimum in float32, loose steps fell below the objective's rounding and
// stopped a problem early, 0.5% above its optimum. Measured with
// benchmarks/bench_solvers.py (time to within 1e-6 of the optimum), softmax: usps 0.87 -> 0.58 s,
// letter 0.128 -> 0.102 s, synthetic unchanged (0.56 s). The objectives' Jacobi preconditioning
// in centred coordinates (apply_jacobi), against none, in one run: synthetic 1.03 -> 0.47 s,
// usps 1.24 -> 0.88 s, letter 0.145 -> 0.099 s, digits 0.012 -> 0.014 s. Plain Jacobi, without
// centring, lost 1.2-1.8x on the uncentred usps, letter and digits.
#include <algorithm>
#include <cmath>

#include "multilogit/newton.hpp"
#include "solver_steps.hpp"

namespace multilogit {
namespace {

constexpr double kAcceptRatio = 1e-4;  // accept when f drops by this share of the prediction
constexpr double kShrinkRatio = 0.25;  // below this share the model was poor: shrink the region
constexpr double kGrowRatio = 0.75;    // above it the model was good: let the region grow
constexpr int kMaxRejections = 30;     // rejected steps in a row before giving up
constexpr double kMinForcingTerm = 0.1;  // the floor of the forcing term (see above)

// The step of one trust-region iteration with its predicted decrease -(g.s + s.H s / 2) and
// its length in the preconditioner's norm.
struct ModelStep {
  Eigen::VectorXd step;
  double predicted_decrease = 0.0;
  double norm = 0.0;
};

// tau >= 0 with ||s + tau d|| = radius for s inside the region, from s.s, s.d and d.d in the
// region's norm.
double to_boundary(double ss, double sd, double dd, double radius) {
  const double root = std::sqrt(std::max(sd * sd + dd * (radius * radius - ss), 0.0));
  // The two algebraically equal forms of the positive root, whichever avoids cancellation.
  return sd >= 0 ? (radius * radius - ss) / (sd + root) : (root - sd) / dd;
}

// Conjugate gradients preconditioned by the objective's M ~ H, in the region ||s||_M <= radius,
// in whose norm the iterates grow (Steihaug 1983). The M-products of s and the direction d
// follow from recurrences (Gould, Lucidi, Roma & Toint 1999), so M itself is never formed.
ModelStep steihaug_cg(SecondOrderObjective& objective, const Eigen::VectorXd& gradient,
                      double radius, double min_forcing) {
  const Eigen::Index n = gradient.size();
  const double gradient_norm = gradient.norm();
  const double tolerance =
      std::max(min_forcing, std::min(0.5, std::sqrt(gradient_norm))) * gradient_norm;
  Eigen::VectorXd s = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd residual = -gradient;  // -g - H s
  Eigen::VectorXd z(n), Hd(n);
  objective.precondition(residual, z);
  Eigen::VectorXd direction = z;
  double rz = residual.dot(z);
  double sMs = 0.0, sMd = 0.0, dMd = rz;
  const auto go_to_boundary = [&] {
    const double tau = to_boundary(sMs, sMd, dMd, radius);
    s += tau * direction;
    residual -= tau * Hd;
    sMs = radius * radius;
  };
  for (Eigen::Index k = 0; k < n && residual.norm() > tolerance; ++k) {
    objective.hessian_product(direction, Hd);
    const double curvature = direction.dot(Hd);
    if (!(curvature > 0.0)) {  // the model is unbounded along d
      go_to_boundary();
      break;
    }
    const double alpha = rz / curvature;
    const double next_sMs = sMs + alpha * (2.0 * sMd + alpha * dMd);
    if (next_sMs >= radius * radius) {
      go_to_boundary();
      break;
    }
    s += alpha * direction;
    residual -= alpha * Hd;
    sMs = next_sMs;
    objective.precondition(residual, z);
    const double next_rz = residual.dot(z);
    if (!(next_rz > 0.0)) break;  // residual down to rounding
    const double beta = next_rz / rz;
    sMd = beta * (sMd + alpha * dMd);
    dMd = next_rz + beta * beta * dMd;
    direction = z + beta * direction;
    rz = next_rz;
  }
  // With r = -g - H s: g.s + s.H s / 2 = (g.s - r.s) / 2.
  const double predicted = -0.5 * (gradient.dot(s) - residual.dot(s));
  return {std::move(s), predicted, std::sqrt(sMs)};
}

}  // namespace

SolverResult minimize_newton_cg(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                const SolverSettings& settings) {
  Eigen::VectorXd gradient(w.size()), trial_gradient(w.size()), trial(w.size());
  SolverResult result;
  if (detail::start_at(objective, w, gradient, settings.tol, result)) return result;

  // The preconditioned steepest-descent step's length: ||g|| without preconditioning.
  Eigen::VectorXd preconditioned(w.size());
  objective.precondition(gradient, preconditioned);
  double radius = std::sqrt(gradient.dot(preconditioned));
  int rejections = 0;
  result.status = SolverStatus::MaxIterations;
  while (result.n_iter < settings.max_iter) {
    // After a rejected step, no floor: the step may have failed on rounding, which only a
    // more exact step gets past.
    const ModelStep model =
        steihaug_cg(objective, gradient, radius, rejections > 0 ? 0.0 : kMinForcingTerm);
    const double step_norm = model.norm;
    trial = w + model.step;
    const double trial_value = objective.evaluate(trial, trial_gradient);
    ++result.n_evaluations;
    const double rounding = detail::rounding_of(objective, result.objective);
    const bool accepted = detail::accept_newton_trial(
        result.objective, trial_value, kAcceptRatio * model.predicted_decrease, rounding,
        result.gradient_norm,
        [&] { return trial_gradient.lpNorm<Eigen::Infinity>(); });
    if (model.predicted_decrease > rounding) {
      const double ratio = (result.objective - trial_value) / model.predicted_decrease;
      if (!(ratio >= kShrinkRatio)) {
        radius = kShrinkRatio * std::min(radius, step_norm);
      } else if (ratio > kGrowRatio) {
        radius = std::max(radius, 2.0 * step_norm);
      }
    } else if (!accepted) {
      // Rounding hides how good the model was; the step did not shrink the gradient.
      radius = kShrinkRatio * std::min(radius, step_norm);
    }
    if (!accepted) {
      if (++rejections > kMaxRejections || !(radius > 0.0)) {
        result.status = SolverStatus::LineSearchFailed;
        break;
      }
      // Second derivatives are taken at the last point evaluated: return to w.
      objective.evaluate(w, gradient);
      ++result.n_evaluations;
      continue;
    }
    rejections = 0;
    if (detail::accept_newton_step(w, gradient, trial, trial_gradient, trial_value, result,
                                   settings)) {
      break;
    }
  }
  return result;
}

}  // namespace multilogit
