#include "commands.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <multilogit/model_file.hpp>
#include <multilogit/trainers.hpp>

#include "files.hpp"
#include "labels.hpp"
#include "svmlight.hpp"

namespace multilogit::cli {
namespace {

// "softmax: 3 classes, 200 rows, 20 features; 37 iterations, converged", the same line the
// Python command line prints.
void print_summary(const Model<double>& model, Index n_rows) {
  const std::vector<ProblemReport>& reports = model.reports();
  int fewest = reports.front().n_iter, most = fewest, not_converged = 0;
  for (const ProblemReport& report : reports) {
    fewest = std::min(fewest, report.n_iter);
    most = std::max(most, report.n_iter);
    not_converged += report.converged() ? 0 : 1;
  }
  std::string iterations = std::to_string(most) + " iterations";
  if (reports.size() > 1) {
    iterations = std::to_string(reports.size()) + " problems, " +
                 (fewest == most ? iterations + " each"
                                 : std::to_string(fewest) + "-" + iterations);
  }
  std::printf("%s: %d classes, %lld rows, %lld features; %s, %s\n",
              std::string(to_string(model.strategy())).c_str(), model.n_classes(),
              static_cast<long long>(n_rows), static_cast<long long>(model.n_features()),
              iterations.c_str(), not_converged ? "not converged" : "converged");
  if (not_converged) {
    std::fprintf(stderr,
                 "multilogit: warning: %d of %zu optimisation problem(s) did not converge; "
                 "scaling the features or a larger -e may help\n",
                 not_converged, reports.size());
  }
}

// `suffix` in lower case.
bool ends_with_ignoring_case(const std::string& text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  const auto tail = text.end() - static_cast<std::ptrdiff_t>(suffix.size());
  return std::equal(suffix.begin(), suffix.end(), tail, [](char lower, char c) {
    return std::tolower(static_cast<unsigned char>(c)) == lower;
  });
}

// A hint rather than a confusing parse error for the formats only the Python program reads.
SvmlightData read_data(const std::string& path, std::int64_t max_features = -1) {
  for (const char* extension : {".csv", ".npy", ".npz"}) {
    if (ends_with_ignoring_case(path, extension)) {
      throw std::runtime_error(path + ": this program reads svmlight files only (the Python "
                                      "multilogit also reads CSV, .npy and .npz files)");
    }
  }
  return read_svmlight(path, max_features);
}

SavedModel read_model(const std::string& path) {
  const std::string bytes = read_file(path);
  try {
    return decode_model(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(path + ": " + error.what());
  }
}

// Predictions are computed in double whatever precision the model was trained in, as the
// Python estimator does for float64 data, so both programs write the same numbers.
Model<double> in_double(const SavedModel& saved) {
  return std::visit(
      [](const auto& model) {
        return Model<double>(model.strategy(), model.n_classes(),
                             model.coef().template cast<double>(),
                             model.intercept().template cast<double>());
      },
      saved.model);
}

// One line per row: the label, then with probabilities each class's probability, written with
// 17 significant digits (enough to read back the same double).
std::string prediction_lines(const SavedModel& saved, const Eigen::VectorXi& predicted,
                             const RowMatrix<double>* probabilities) {
  std::vector<std::string> texts;
  for (int k = 0; k < saved.n_classes(); ++k) texts.push_back(saved.label_text(k));
  std::string out;
  if (probabilities) {
    out += "labels";
    for (const std::string& text : texts) out += " " + text;
    out += "\n";
  }
  char number[32];
  for (Index i = 0; i < predicted.size(); ++i) {
    out += texts[static_cast<std::size_t>(predicted[i])];
    if (probabilities) {
      for (Index k = 0; k < probabilities->cols(); ++k) {
        std::snprintf(number, sizeof number, " %.17g", (*probabilities)(i, k));
        out += number;
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace

int run_train(const TrainArguments& arguments) {
  const SvmlightData data = read_data(arguments.data);
  if (data.n_features == 0) {
    throw std::runtime_error(arguments.data + ": no features (every row is empty)");
  }
  const EncodedLabels labels = encode_labels(data.labels);
  if (labels.n_classes() < 2) {
    throw std::runtime_error(arguments.data + ": every row has label " + data.labels.front() +
                             "; training needs at least two classes");
  }
  const Model<double> model =
      make_trainer<double>(arguments.strategy, arguments.options)
          ->fit(data.matrix(data.n_features), labels.indices, labels.n_classes());
  const std::vector<std::uint8_t> bytes =
      encode_model(SavedModel(model, labels.classes, arguments.options));
  write_file(arguments.model,
             std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  print_summary(model, data.n_rows());
  return 0;
}

int run_predict(const PredictArguments& arguments) {
  const SavedModel saved = read_model(arguments.model);
  const SvmlightData data = read_data(arguments.data, saved.n_features());
  const Model<double> model = in_double(saved);
  const auto X = data.matrix(saved.n_features());
  const Eigen::VectorXi predicted = model.predict(X);
  RowMatrix<double> probabilities;
  if (arguments.probabilities) probabilities = model.predict_proba(X);
  write_file(arguments.output,
             prediction_lines(saved, predicted, arguments.probabilities ? &probabilities : nullptr));

  Index correct = 0;
  for (Index i = 0; i < predicted.size(); ++i) {
    const std::string& label = data.labels[static_cast<std::size_t>(i)];
    if (names_class(saved.classes, predicted[i], label)) ++correct;
  }
  const Index total = predicted.size();
  // LIBLINEAR's line, computed as LIBLINEAR computes it.
  std::printf("Accuracy = %g%% (%lld/%lld)\n", static_cast<double>(correct) / total * 100,
              static_cast<long long>(correct), static_cast<long long>(total));
  return 0;
}

}  // namespace multilogit::cli
