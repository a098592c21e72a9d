// Limited-memory quasi-Newton solvers: L-BFGS with a line search enforcing the strong Wolfe
// conditions, and its orthant-wise variant OWL-QN for an added L1 penalty.
#pragma once

#include <functional>

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/solver.hpp"

namespace multilogit {

struct LbfgsSettings : SolverSettings {
  int memory = 10;  // number of correction pairs kept
  // L-BFGS only: q becomes H0 q in place, for the fixed symmetric positive definite initial
  // inverse Hessian H0 that each iteration scales by s.y / y.H0 y of its newest pair. A good H0
  // (a preconditioner) saves iterations; empty: the identity.
  std::function<void(Eigen::VectorXd&)> initial_inverse_hessian;
};

// Minimises `objective` starting from `w`, which holds the solution on return. Every accepted
// step decreases f (by at least the Armijo amount while that exceeds the rounding of f).
SolverResult minimize_lbfgs(Objective& objective, Eigen::VectorXd& w,
                            const LbfgsSettings& settings);

// Minimises F(w) = f(w) + sum_i l1[i] |w_i| (f given by `objective`, l1 >= 0) by OWL-QN,
// starting from `w`. Coefficients can reach exact zeros; tol bounds the max-norm of the
// minimum-norm subgradient of F, and the reported objective is F.
SolverResult minimize_owlqn(Objective& objective, Eigen::VectorXd& w, const Eigen::VectorXd& l1,
                            const LbfgsSettings& settings);

}  // namespace multilogit
