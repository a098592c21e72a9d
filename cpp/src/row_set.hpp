// The rows of a design matrix that one problem trains on: all of them, or a subset by index
// (one-vs-one pairs). Subsets are read through an index list, never copied as a whole: dense
// row-major rows are read in place, other storage gathered a chunk at a time into a small
// scratch matrix while it is used.
#pragma once

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include "kernels/kernels.hpp"
#include "multilogit/types.hpp"

namespace multilogit::detail {

// The values X stores: all of them when dense.
template <typename Matrix>
double stored_values(const Matrix& X) {
  if constexpr (is_sparse_v<Matrix>) {
    return static_cast<double>(X.nonZeros());
  } else {
    return static_cast<double>(X.rows()) * static_cast<double>(X.cols());
  }
}

// Matrix is a MatrixView (dense, either order) or a SparseView (CSR or CSC).
template <typename Matrix>
class RowSet {
 public:
  using Scalar = typename Matrix::Scalar;
  static constexpr bool kSparse = is_sparse_v<Matrix>;
  // Compressed columns cannot be cut into row chunks cheaply: they are read whole.
  static constexpr bool kWholeOnly = kSparse && !Matrix::IsRowMajor;
  // A dense set of at least kMinChunks * kMinEvenChunkRows rows splits into at least
  // kMinChunks chunks (chunk_rows); smaller chunks would cost more in calls than they balance.
  static constexpr Index kMinChunks = 8, kMinEvenChunkRows = 128;
  using Scratch = std::conditional_t<
      kSparse, Eigen::SparseMatrix<Scalar, Eigen::RowMajor, typename Matrix::StorageIndex>,
      RowMatrix<Scalar>>;

  // All rows of X.
  explicit RowSet(const Matrix& X) : X_(X), rows_(nullptr), size_(X.rows()) {}

  // The rows of X listed in rows[0..size), which must outlive this object (not for CSC).
  RowSet(const Matrix& X, const Index* rows, Index size) : X_(X), rows_(rows), size_(size) {
    static_assert(!kWholeOnly, "row subsets of compressed columns are not supported");
  }

  Index size() const { return size_; }
  bool is_all_rows() const { return rows_ == nullptr; }
  Index n_features() const { return X_.cols(); }

  // The values of X in the set's rows.
  double stored_values() const {
    if (!rows_) return detail::stored_values(X_);
    if constexpr (kSparse) {
      double values = 0.0;
      for (Index i = 0; i < size_; ++i) values += static_cast<double>(row_length(rows_[i]));
      return values;
    } else {
      return static_cast<double>(size_) * static_cast<double>(X_.cols());
    }
  }

  // Row of X holding the i-th row of the set.
  Index source_row(Index i) const { return rows_ ? rows_[i] : i; }

  // Rows per chunk: about 256 KiB of dense X, so a chunk stays in cache between the two
  // products, or fewer, so that a set of a few thousand rows still splits into kMinChunks
  // chunks of equal work for the threads (digits' 1347 rows went in chunks of 512, 512 and 323,
  // and two threads waited on the last: one-vs-all and softmax fits took 7% longer); a few
  // thousand sparse rows; everything for compressed columns.
  Index chunk_rows() const {
    if constexpr (kWholeOnly) {
      return std::max<Index>(size_, 1);
    } else if constexpr (kSparse) {
      return 4096;
    } else {
      const Index bytes = Index(1) << 18;
      const Index in_cache = bytes / (std::max<Index>(X_.cols(), 1) * Index(sizeof(Scalar)));
      const Index even = (size_ + kMinChunks - 1) / kMinChunks;
      return std::clamp<Index>(even >= kMinEvenChunkRows ? std::min(in_cache, even) : in_cache,
                               16, 4096);
    }
  }

  // Calls use(block) with rows [first, first + count) of the set. Dense X comes as a DenseBlock:
  // a row-major subset is read in place through its index list, a column-major one is gathered
  // into `scratch` (at most `count` rows). Sparse X comes as an Eigen expression, a subset
  // gathered into `scratch`.
  // Rows of X itself in row-major order name the rows that follow the chunk, up to row
  // `ahead_end` of the set, as the block's `ahead`: the pass reads them next.
  template <typename Use>
  void visit(Index first, Index count, Scratch& scratch, Use&& use, Index ahead_end = 0) const {
    if constexpr (kWholeOnly) {
      use(X_);
    } else if constexpr (kSparse) {
      if (!rows_) {
        use(X_.middleRows(first, count));
        return;
      }
      gather(first, count, scratch);
      use(scratch);
    } else {
      if (!rows_) {
        auto block = dense_block(X_.middleRows(first, count));
        const Index next = first + count, ahead_rows = std::min(count, ahead_end - next);
        if (Matrix::IsRowMajor && ahead_rows > 0) {
          block.ahead = X_.data() + next * X_.outerStride();
          block.ahead_bytes = ahead_rows * X_.outerStride() * Index(sizeof(Scalar));
        }
        use(block);
      } else if constexpr (Matrix::IsRowMajor) {
        auto block = dense_block(X_);
        block.rows = count;
        block.row_index = rows_ + first;
        use(block);
      } else {
        gather(first, count, scratch);
        use(dense_block(scratch));
      }
    }
  }

 private:
  void gather(Index first, Index count, Scratch& scratch) const {
    if constexpr (kSparse) {
      Index nnz = 0;
      for (Index r = 0; r < count; ++r) nnz += row_length(rows_[first + r]);
      scratch.resize(count, X_.cols());
      scratch.resizeNonZeros(nnz);
      auto* outer = scratch.outerIndexPtr();
      Index at = 0;
      for (Index r = 0; r < count; ++r) {
        const Index row = rows_[first + r];
        const Index begin = X_.outerIndexPtr()[row], length = row_length(row);
        std::copy_n(X_.innerIndexPtr() + begin, length, scratch.innerIndexPtr() + at);
        std::copy_n(X_.valuePtr() + begin, length, scratch.valuePtr() + at);
        outer[r] = static_cast<typename Scratch::StorageIndex>(at);
        at += length;
      }
      outer[count] = static_cast<typename Scratch::StorageIndex>(at);
    } else {
      scratch.resize(count, X_.cols());
      for (Index r = 0; r < count; ++r) scratch.row(r) = X_.row(rows_[first + r]);
    }
  }

  Index row_length(Index row) const {
    return X_.outerIndexPtr()[row + 1] - X_.outerIndexPtr()[row];
  }

  const Matrix& X_;
  const Index* rows_;
  Index size_;
};

}  // namespace multilogit::detail
