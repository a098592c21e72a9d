// Limited-memory quasi-Newton solvers: L-BFGS with a line search enforcing the strong Wolfe
// conditions, and its orthant-wise variant OWL-QN for an added L1 penalty.
#pragma once

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/solver.hpp"

namespace multilogit {

struct LbfgsSettings : SolverSettings {
  int memory = 10;  // number of correction pairs kept
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
