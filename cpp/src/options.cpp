#include "multilogit/options.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

namespace multilogit {

Solver parse_solver(std::string_view name) {
  for (Solver solver : {Solver::Auto, Solver::Lbfgs, Solver::NewtonCg, Solver::NewtonCholesky}) {
    if (name == to_string(solver)) return solver;
  }
  throw std::invalid_argument("unknown solver '" + std::string(name) +
                              "': expected 'auto', 'lbfgs', 'newton-cg' or 'newton-cholesky'");
}

std::string_view to_string(Solver solver) {
  switch (solver) {
    case Solver::Auto: return "auto";
    case Solver::Lbfgs: return "lbfgs";
    case Solver::NewtonCg: return "newton-cg";
    case Solver::NewtonCholesky: return "newton-cholesky";
  }
  return "unknown";
}

void TrainOptions::validate() const {
  if (!(C > 0.0)) {
    throw std::invalid_argument("C must be positive (or infinite for no penalty), got " +
                                std::to_string(C));
  }
  if (!(l1_ratio >= 0.0 && l1_ratio <= 1.0)) {
    throw std::invalid_argument("l1_ratio must be in [0, 1], got " + std::to_string(l1_ratio));
  }
  if (!(tol >= 0.0) || !std::isfinite(tol)) {
    throw std::invalid_argument("tol must be a finite number >= 0, got " + std::to_string(tol));
  }
  if (max_iter < 1) {
    throw std::invalid_argument("max_iter must be >= 1, got " + std::to_string(max_iter));
  }
  if (n_threads < 0) {
    throw std::invalid_argument("n_threads must be >= 0 (0 means all cores), got " +
                                std::to_string(n_threads));
  }
  if (lbfgs_memory < 0) {
    throw std::invalid_argument("lbfgs_memory must be >= 0 (0 chooses by size), got " +
                                std::to_string(lbfgs_memory));
  }
  if ((solver == Solver::NewtonCg || solver == Solver::NewtonCholesky) && l1_ratio > 0.0) {
    throw std::invalid_argument("solver '" + std::string(to_string(solver)) +
                                "' does not support l1_ratio > 0 (got l1_ratio = " +
                                std::to_string(l1_ratio) +
                                "): an L1 penalty needs solver 'auto' or 'lbfgs' (OWL-QN)");
  }
}

int TrainOptions::resolved_threads() const {
  if (n_threads > 0) return n_threads;
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

}  // namespace multilogit
