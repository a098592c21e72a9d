#include "svmlight.hpp"

#include <stdexcept>
#include <string_view>

#include <multilogit/model_file.hpp>

#include "files.hpp"
#include "numbers.hpp"

namespace multilogit::cli {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits a line (comment removed) into its whitespace-separated fields.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (true) {
    while (at < line.size() && is_blank(line[at])) ++at;
    if (at == line.size()) return fields;
    const std::size_t start = at;
    while (at < line.size() && !is_blank(line[at])) ++at;
    fields.push_back(line.substr(start, at - start));
  }
}

class LineReader {
 public:
  LineReader(const std::string& path, std::int64_t max_features, bool model_limit)
      : path_(path), max_features_(max_features), model_limit_(model_limit) {}

  void read(std::string_view line, std::size_t line_number, SvmlightData& data) {
    line_number_ = line_number;
    const std::vector<std::string_view> fields = fields_of(line.substr(0, line.find('#')));
    if (fields.empty()) return;
    if (fields[0].find(':') != std::string_view::npos) {
      fail("the line starts with '" + std::string(fields[0]) + "', not a label");
    }
    std::int64_t previous = 0;
    for (std::size_t k = 1; k < fields.size(); ++k) {
      const std::string_view field = fields[k];
      const std::size_t colon = field.find(':');
      if (colon == std::string_view::npos) fail(field, "expected index:value");
      const std::optional<std::int64_t> index = parse_digits(field.substr(0, colon));
      if (!index) fail(field, "the feature index is not a positive integer");
      if (*index == 0) fail(field, "feature indices start at 1");
      if (*index > max_features_) {
        fail(field, model_limit_ ? "feature index above the model's " +
                                       std::to_string(max_features_) + " features"
                                 : "feature index above " + std::to_string(max_features_));
      }
      if (*index <= previous) {
        fail(field, "feature indices must increase along a line (previous: " +
                        std::to_string(previous) + ")");
      }
      const std::optional<double> value = parse_decimal(field.substr(colon + 1));
      if (!value) fail(field, "the value is not a finite decimal number");
      data.columns.push_back(*index - 1);
      data.values.push_back(*value);
      previous = *index;
    }
    data.labels.emplace_back(fields[0]);
    data.row_starts.push_back(static_cast<std::int64_t>(data.values.size()));
    if (previous > data.n_features) data.n_features = previous;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(path_ + ":" + std::to_string(line_number_) + ": " + problem);
  }
  [[noreturn]] void fail(std::string_view field, const std::string& problem) const {
    fail("'" + std::string(field) + "': " + problem);
  }

  const std::string& path_;
  std::int64_t max_features_;
  bool model_limit_;
  std::size_t line_number_ = 0;
};

}  // namespace

SparseView<double, Eigen::RowMajor, std::int64_t> SvmlightData::matrix(Index n_columns) const {
  return {n_rows(), n_columns, static_cast<Index>(values.size()), row_starts.data(),
          columns.data(), values.data()};
}

SvmlightData read_svmlight(const std::string& path, std::int64_t max_features) {
  const bool model_limit = max_features >= 0;
  LineReader reader(path, model_limit ? max_features : kModelFileMaxFeatures, model_limit);
  const std::string contents = read_file(path);
  const std::string_view text = contents;
  SvmlightData data;
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    reader.read(text.substr(start, end - start), ++line_number, data);
    start = end + 1;
  }
  if (data.labels.empty()) throw std::runtime_error(path + ": no data rows");
  return data;
}

}  // namespace multilogit::cli
