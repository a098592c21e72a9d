// The rows of a design matrix that one problem trains on: all of them, or a subset by index
// (one-vs-one pairs). Subsets are read through an index list, never copied as a whole.
#pragma once

#include <Eigen/Core>

#include "multilogit/types.hpp"

namespace multilogit::detail {

template <typename Scalar, int Order>
class RowSet {
 public:
  // All rows of X.
  explicit RowSet(const MatrixView<Scalar, Order>& X) : X_(X), rows_(nullptr), size_(X.rows()) {}

  // The rows of X listed in rows[0..size), which must outlive this object.
  RowSet(const MatrixView<Scalar, Order>& X, const Index* rows, Index size)
      : X_(X), rows_(rows), size_(size) {}

  Index size() const { return size_; }
  Index n_features() const { return X_.cols(); }

  // Row of X holding the i-th row of the set.
  Index source_row(Index i) const { return rows_ ? rows_[i] : i; }

  // Calls use(block) with rows [first, first + count) of the set as a dense Eigen expression.
  // A subset is gathered into `scratch`, which holds at most `count` rows.
  template <typename Use>
  void visit(Index first, Index count, RowMatrix<Scalar>& scratch, Use&& use) const {
    if (!rows_) {
      use(X_.middleRows(first, count));
      return;
    }
    scratch.resize(count, X_.cols());
    for (Index r = 0; r < count; ++r) scratch.row(r) = X_.row(rows_[first + r]);
    use(scratch);
  }

 private:
  const MatrixView<Scalar, Order>& X_;
  const Index* rows_;
  Index size_;
};

}  // namespace multilogit::detail
