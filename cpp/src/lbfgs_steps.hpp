// L-BFGS in steps: the solver names the point where it wants f and the gradient, and is told
// them, instead of calling an objective itself. minimize_lbfgs drives one problem this way; a
// batch of problems drives many from one thread, each pass over X evaluating all of their points
// (solve_in_steps.hpp).
#pragma once

#include <Eigen/Core>

#include "multilogit/lbfgs.hpp"
#include "quasi_newton.hpp"

namespace multilogit::detail {

// f and its derivative along a line search's direction at a step.
struct LinePoint {
  double step = 0.0;
  double value = 0.0;
  double slope = 0.0;
};

class LbfgsSteps {
 public:
  // Starts from w, for an objective whose values carry `relative_precision` (as
  // Objective::relative_precision()).
  LbfgsSteps(Eigen::VectorXd w, const LbfgsSettings& settings, double relative_precision);

  // Where f and its gradient are wanted next, and room for that gradient.
  const Eigen::VectorXd& point() const { return trial_; }
  Eigen::VectorXd& gradient_room() { return trial_gradient_; }

  // Takes f at point(), its gradient in gradient_room(); returns false once the solver has
  // finished, true when it wants the next point evaluated.
  bool tell(double value);

  // The solution so far (the last accepted point) and how the solver stands.
  const Eigen::VectorXd& solution() const { return w_; }
  const SolverResult& result() const { return result_; }

 private:
  // Start: the first point. Bracket: steps growing until the minimiser along the line is
  // bracketed. Zoom: the bracket shrinking by cubic interpolation. Done: finished.
  enum class Stage { Start, Bracket, Zoom, Done };

  bool begin_iteration();
  bool propose(double step);
  LinePoint take_trial_point(double value);
  bool bracket(const LinePoint& current);
  bool zoom(const LinePoint& current);
  bool zoom_step();
  bool end_search();
  bool move_to(const Eigen::VectorXd& w, const Eigen::VectorXd& gradient, double value);
  bool finish(SolverStatus status);
  bool sufficient_decrease(const LinePoint& p) const;
  bool wolfe(const LinePoint& p) const;

  LbfgsSettings settings_;
  double relative_precision_;
  Stage stage_ = Stage::Start;
  SolverResult result_;
  CurvatureHistory history_;
  Eigen::VectorXd w_, gradient_, direction_;
  Eigen::VectorXd trial_, trial_gradient_;
  double lowest_ = 0.0;  // the lowest value of f reached so far
  // The line search of the current iteration.
  LinePoint origin_, previous_, lo_, hi_;
  double trial_step_ = 0.0;
  int evaluations_ = 0;
  // The lowest trial satisfying sufficient decrease, so that a search cut short can still
  // return a strict decrease.
  bool has_best_ = false;
  LinePoint best_;
  Eigen::VectorXd best_w_, best_gradient_;
};

}  // namespace multilogit::detail
