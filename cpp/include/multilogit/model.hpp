// A fitted classifier: coefficients plus the rules that turn linear scores into predictions.
#pragma once

#include <vector>

#include <Eigen/Core>

#include "multilogit/lbfgs.hpp"
#include "multilogit/strategy.hpp"
#include "multilogit/types.hpp"

namespace multilogit {

// How the optimisation of one sub-problem ended.
struct ProblemReport {
  SolverStatus status = SolverStatus::MaxIterations;
  int n_iter = 0;
  double objective = 0.0;
  double gradient_norm = 0.0;
  int n_evaluations = 0;  // of the loss and its gradient (Hessian products aside)

  bool converged() const { return status == SolverStatus::Converged; }
};

template <typename Scalar>
class Model {
 public:
  // coef has one row per linear unit (see n_units()) and one column per feature.
  Model(Strategy strategy, int n_classes, RowMatrix<Scalar> coef, Vector<Scalar> intercept,
        std::vector<ProblemReport> reports = {});

  Strategy strategy() const { return strategy_; }
  int n_classes() const { return n_classes_; }
  Index n_features() const { return coef_.cols(); }
  const RowMatrix<Scalar>& coef() const { return coef_; }
  const Vector<Scalar>& intercept() const { return intercept_; }
  const std::vector<ProblemReport>& reports() const { return reports_; }

  // X is n x n_features(): any dense Eigen matrix of Scalar (read in place when its storage
  // allows) or a SparseView (CSR or CSC). Each of these throws std::invalid_argument when X has
  // another number of columns, holds NaN or infinity, or has values so large that the scores
  // overflow.

  // Scores, n x 1 for two classes (positive class 1), otherwise n x n_classes. For one-vs-one
  // these are votes plus summed confidences squashed into (-1/3, 1/3).
  template <typename Derived>
  RowMatrix<Scalar> decision_function(const Eigen::MatrixBase<Derived>& X,
                                      int n_threads = 0) const {
    return decision_of(MatrixView<Scalar, storage_order_of<Derived>()>(X), n_threads);
  }
  template <int Order, typename StorageIndex>
  RowMatrix<Scalar> decision_function(const SparseView<Scalar, Order, StorageIndex>& X,
                                      int n_threads = 0) const {
    return decision_of(X, n_threads);
  }

  // Class probabilities, n x n_classes, rows summing to one. One-vs-one couples the pairwise
  // probabilities (Wu, Lin and Weng 2004, second method).
  template <typename Derived>
  RowMatrix<Scalar> predict_proba(const Eigen::MatrixBase<Derived>& X, int n_threads = 0) const {
    return probabilities_of(MatrixView<Scalar, storage_order_of<Derived>()>(X), n_threads);
  }
  template <int Order, typename StorageIndex>
  RowMatrix<Scalar> predict_proba(const SparseView<Scalar, Order, StorageIndex>& X,
                                  int n_threads = 0) const {
    return probabilities_of(X, n_threads);
  }

  // Predicted class indices in [0, n_classes).
  template <typename Derived>
  Eigen::VectorXi predict(const Eigen::MatrixBase<Derived>& X, int n_threads = 0) const {
    return classes_of(MatrixView<Scalar, storage_order_of<Derived>()>(X), n_threads);
  }
  template <int Order, typename StorageIndex>
  Eigen::VectorXi predict(const SparseView<Scalar, Order, StorageIndex>& X,
                          int n_threads = 0) const {
    return classes_of(X, n_threads);
  }

 private:
  // Compiled in the library for every dense and sparse view.
  template <typename Matrix>
  RowMatrix<Scalar> decision_of(const Matrix& X, int n_threads) const;
  template <typename Matrix>
  RowMatrix<Scalar> probabilities_of(const Matrix& X, int n_threads) const;
  template <typename Matrix>
  Eigen::VectorXi classes_of(const Matrix& X, int n_threads) const;

  Strategy strategy_;
  int n_classes_;
  RowMatrix<Scalar> coef_;
  Vector<Scalar> intercept_;
  std::vector<ProblemReport> reports_;
};

extern template class Model<float>;
extern template class Model<double>;

}  // namespace multilogit
