#include "labels.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "numbers.hpp"

namespace multilogit::cli {
namespace {

template <typename Label>
EncodedLabels encode(const std::vector<Label>& labels) {
  std::vector<Label> classes = labels;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  Eigen::VectorXi indices(static_cast<Index>(labels.size()));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto found = std::lower_bound(classes.begin(), classes.end(), labels[i]);
    indices[static_cast<Index>(i)] = static_cast<int>(found - classes.begin());
  }
  return {std::move(classes), std::move(indices)};
}

}  // namespace

EncodedLabels encode_labels(const std::vector<std::string>& texts) {
  std::vector<std::int64_t> integers;
  integers.reserve(texts.size());
  for (const std::string& text : texts) {
    const std::optional<std::int64_t> value = parse_integer(text);
    if (!value) return encode(texts);  // std::string orders bytewise, as model files require
    integers.push_back(*value);
  }
  return encode(integers);
}

bool names_class(const ClassLabels& classes, int k, std::string_view text) {
  return std::visit(
      [&](const auto& labels) {
        const auto& label = labels[static_cast<std::size_t>(k)];
        if constexpr (std::is_same_v<std::decay_t<decltype(label)>, std::string>) {
          return label == text;
        } else {
          const std::optional<std::int64_t> value = parse_integer(text);
          return value && *value == label;
        }
      },
      classes);
}

}  // namespace multilogit::cli
