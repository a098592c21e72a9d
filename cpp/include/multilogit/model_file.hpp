// Model files: a fitted model with its class labels and training options, in the versioned
// binary format specified in docs/model-format.md (the same bytes from C++ and from Python).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "multilogit/model.hpp"
#include "multilogit/options.hpp"
#include "multilogit/strategy.hpp"
#include "multilogit/types.hpp"

namespace multilogit {

// Version of the format save_model writes; load_model reads exactly this version.
inline constexpr std::uint32_t kModelFormatVersion = 1;

// Limits shared by writer and reader, so every file one accepts the other accepts too.
inline constexpr int kModelFileMaxClasses = 32768;
inline constexpr std::int64_t kModelFileMaxFeatures = 2147483647;  // 2^31 - 1
inline constexpr std::size_t kModelFileMaxStringBytes = 65536;     // a label or feature name

// The class labels: label k names class index k. Integers, or UTF-8 strings; either way
// strictly increasing (strings in bytewise order, which is Unicode code point order), as
// scikit-learn's classes_.
using ClassLabels = std::variant<std::vector<std::int64_t>, std::vector<std::string>>;

// Everything a model file holds.
struct SavedModel {
  // Builds from a model of either precision; the usual call is
  //   save_model({model, labels, options}, "model.mlogit");
  template <typename Scalar>
  SavedModel(Model<Scalar> fitted, ClassLabels labels, TrainOptions train_options = {},
             std::vector<std::string> names = {})
      : model(std::move(fitted)),
        classes(std::move(labels)),
        options(std::move(train_options)),
        feature_names(std::move(names)) {}

  // The coefficients in the precision they were trained in.
  std::variant<Model<double>, Model<float>> model;
  ClassLabels classes;
  // Only C, l1_ratio, fit_intercept, tol and max_iter are stored; a loaded model has the
  // defaults of every other field.
  TrainOptions options;
  // Empty, or one UTF-8 name per feature (scikit-learn's feature_names_in_).
  std::vector<std::string> feature_names;

  Strategy strategy() const;
  int n_classes() const;
  Index n_features() const;
  bool is_float32() const { return std::holds_alternative<Model<float>>(model); }

  // Label of class index k as text: the string itself, or the integer in decimal.
  std::string label_text(int k) const;
};

// The file's bytes. Throws std::invalid_argument if the model cannot be stored (labels not
// matching n_classes, not strictly increasing, not valid UTF-8, or over the limits above;
// invalid options; feature names not matching n_features).
std::vector<std::uint8_t> encode_model(const SavedModel& saved);

// Parses exactly one model file occupying all `size` bytes. Throws std::invalid_argument
// naming the problem for anything else: truncated, corrupted (checksum), wrong magic bytes or
// version, out-of-range fields, trailing bytes. Never allocates more than a small multiple of
// `size`.
SavedModel decode_model(const std::uint8_t* data, std::size_t size);
SavedModel decode_model(const std::vector<std::uint8_t>& bytes);

// Writes encode_model(saved); std::runtime_error if the stream or file cannot be written.
void save_model(const SavedModel& saved, std::ostream& out);
void save_model(const SavedModel& saved, const std::filesystem::path& path);

// Reads one model from the stream, which is left just after it (a model may be embedded in a
// longer stream). Content errors throw std::invalid_argument as decode_model; memory grows
// only with the bytes actually read, whatever size the header announces.
SavedModel load_model(std::istream& in);
// Reads a file holding exactly one model: std::runtime_error if it cannot be opened,
// std::invalid_argument for bad content, trailing bytes included.
SavedModel load_model(const std::filesystem::path& path);

}  // namespace multilogit
