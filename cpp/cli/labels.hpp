// Class labels read as text from a data file.
//
// When every label is an integer ([+-] digits within int64: "1", "-1", "+1", "007") the model
// stores integer labels, so "+1" and "1" are one class; otherwise every label is a string,
// compared by its exact text ("1.0" and "1" are then two classes).
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include <multilogit/model_file.hpp>

namespace multilogit::cli {

struct EncodedLabels {
  ClassLabels classes;      // sorted, as a model file stores them
  Eigen::VectorXi indices;  // the class index of each row

  int n_classes() const {
    return static_cast<int>(std::visit([](const auto& c) { return c.size(); }, classes));
  }
};

EncodedLabels encode_labels(const std::vector<std::string>& texts);

// Whether `text`, a label read from a data file, names class k: integers compare by value,
// strings by their bytes.
bool names_class(const ClassLabels& classes, int k, std::string_view text);

}  // namespace multilogit::cli
