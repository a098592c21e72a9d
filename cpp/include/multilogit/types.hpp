// Matrix and vector aliases shared by the whole library.
#pragma once

#include <cstdint>
#include <type_traits>

#include <Eigen/Core>
#include <Eigen/SparseCore>

namespace multilogit {

using Index = Eigen::Index;

template <typename Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

// A read-only view of a dense design matrix in either storage order. Any Eigen matrix, Map or
// block with unit inner stride binds to it without a copy.
template <typename Scalar, int Order>
using MatrixView = Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Order>,
                              0, Eigen::OuterStride<>>;

// A read-only view of a compressed sparse matrix: CSR (RowMajor) or CSC (ColMajor) arrays with
// 32- or 64-bit indices, read in place. Entries within a row (column) need not be sorted, and
// duplicates add up, as in SciPy.
template <typename Scalar, int Order, typename StorageIndex>
using SparseView = Eigen::Map<const Eigen::SparseMatrix<Scalar, Order, StorageIndex>>;

template <typename Matrix>
constexpr bool is_sparse_v = std::is_base_of_v<Eigen::SparseMatrixBase<Matrix>, Matrix>;

// Class indices in [0, n_classes).
using LabelView = Eigen::Ref<const Eigen::VectorXi>;

// The storage order an expression is read in: row-major expressions keep their layout,
// everything else is viewed column-major.
template <typename Derived>
constexpr int storage_order_of() {
  return Derived::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor;
}

}  // namespace multilogit
