// svmlight / LIBSVM data files, one row per line:
//
//   label index:value index:value ...   # comment
//
// Indices start at 1 and increase strictly along a line; values are finite decimal numbers
// (numbers.hpp). Everything from '#' to the end of a line is a comment; lines left empty are
// skipped. Fields are separated by spaces or tabs (any ASCII whitespace); "\r\n" line ends
// are fine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <multilogit/types.hpp>

namespace multilogit::cli {

struct SvmlightData {
  std::vector<std::string> labels;           // one per row, as written
  std::vector<std::int64_t> row_starts{0};   // CSR: n_rows + 1 offsets into columns and values
  std::vector<std::int64_t> columns;         // 0-based feature indices
  std::vector<double> values;
  std::int64_t n_features = 0;               // the largest index in the file (0: none)

  Index n_rows() const { return static_cast<Index>(labels.size()); }

  // The rows as an n_rows x n_columns CSR matrix (n_columns >= n_features), read in place.
  SparseView<double, Eigen::RowMajor, std::int64_t> matrix(Index n_columns) const;
};

// Reads a file of at least one row. Indices above `max_features` are refused; pass the model's
// number of features when predicting (default: the largest number a model file can store).
// Throws std::runtime_error naming the file and line: "PATH:LINE: 'x:1': <problem>".
SvmlightData read_svmlight(const std::string& path, std::int64_t max_features = -1);

}  // namespace multilogit::cli
