// Second-order solvers: a trust-region Newton method whose steps come from conjugate gradients
// on Hessian-vector products, and a line-search Newton method solving with the full Hessian.
#pragma once

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/solver.hpp"

namespace multilogit {

// Minimises `objective` starting from `w`, which holds the solution on return, by the trust
// region Newton method of Lin, Weng & Keerthi (2008): each iteration solves the Newton system
// approximately by conjugate gradients inside the trust region (Steihaug 1983), accepts the step
// if f drops by a fair share of the quadratic model's prediction, and resizes the region by
// how well the model predicted. Iterations count accepted steps.
SolverResult minimize_newton_cg(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                const SolverSettings& settings);

// Minimises `objective` from `w` by Newton's method with the full Hessian: a Cholesky solve
// (shifted towards the identity if the Hessian is not numerically positive definite) and a
// backtracking line search on f. Each iteration costs one Hessian, O(n p^2) for p parameters:
// meant for small p.
SolverResult minimize_newton_cholesky(SecondOrderObjective& objective, Eigen::VectorXd& w,
                                      const SolverSettings& settings);

}  // namespace multilogit
