// pybind11 bindings of the C++ core: argument conversion and zero-copy views only.
//
// Design matrices arrive as NumPy arrays of float32 or float64 in C or Fortran order, or as the
// data/indices/indptr arrays of a CSR or CSC matrix (int32 or int64 indices), and are read in
// place through Eigen maps (read-only arrays included). Anything else is refused with a
// TypeError: converting is the Python layer's job, done once and explicitly. The GIL is released
// while C++ works; std::invalid_argument from the core becomes ValueError.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <multilogit/multilogit.hpp>

namespace py = pybind11;
using multilogit::Model;
using multilogit::RowMatrix;
using multilogit::Strategy;

namespace {

template <typename Scalar, int Order>
using ConstMatrixMap = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Order>>;

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// Calls fn(map) with dense X viewed as an Eigen matrix of its own dtype and storage order.
template <typename Fn>
decltype(auto) with_dense(const py::array& X, Fn&& fn) {
  if (X.ndim() != 2) {
    throw py::value_error("X must be a 2-D array, got " + std::to_string(X.ndim()) + " dimension(s)");
  }
  const bool c_order = X.flags() & py::array::c_style;
  const bool f_order = X.flags() & py::array::f_style;
  if (!c_order && !f_order) throw py::type_error("X must be C- or F-contiguous");
  const auto rows = static_cast<Eigen::Index>(X.shape(0));
  const auto cols = static_cast<Eigen::Index>(X.shape(1));
  auto dispatch = [&](auto scalar) -> decltype(auto) {
    using Scalar = decltype(scalar);
    const auto* data = static_cast<const Scalar*>(X.data());
    if (c_order) return fn(ConstMatrixMap<Scalar, Eigen::RowMajor>(data, rows, cols));
    return fn(ConstMatrixMap<Scalar, Eigen::ColMajor>(data, rows, cols));
  };
  if (py::isinstance<py::array_t<double>>(X)) return dispatch(double{});
  if (py::isinstance<py::array_t<float>>(X)) return dispatch(float{});
  throw py::type_error("X must have dtype float32 or float64, got " + dtype_name(X));
}

bool is_contiguous_vector(const py::array& a) {
  return a.ndim() == 1 && (a.flags() & py::array::c_style);
}

// Calls fn(map) with sparse X, given as (format, data, indices, indptr, (n_rows, n_cols)) with
// format "csr" or "csc", viewed in place as an Eigen sparse matrix.
template <typename Fn>
decltype(auto) with_sparse(const py::tuple& parts, Fn&& fn) {
  if (parts.size() != 5) {
    throw py::value_error("sparse X must be (format, data, indices, indptr, shape)");
  }
  const auto format = parts[0].cast<std::string>();
  if (format != "csr" && format != "csc") {
    throw py::type_error("sparse X must be in CSR or CSC format, got " + format);
  }
  const auto data = parts[1].cast<py::array>();
  const auto indices = parts[2].cast<py::array>();
  const auto indptr = parts[3].cast<py::array>();
  const auto shape = parts[4].cast<std::pair<Eigen::Index, Eigen::Index>>();
  if (!is_contiguous_vector(data) || !is_contiguous_vector(indices) || !is_contiguous_vector(indptr)) {
    throw py::type_error("sparse X: data, indices and indptr must be contiguous 1-D arrays");
  }
  const bool by_rows = format == "csr";
  const Eigen::Index n_outer = by_rows ? shape.first : shape.second;
  if (shape.first < 0 || shape.second < 0 || indptr.shape(0) != n_outer + 1 ||
      indices.shape(0) != data.shape(0)) {
    throw py::value_error("sparse X: inconsistent shape, indptr and indices lengths");
  }
  const auto nnz = static_cast<Eigen::Index>(data.shape(0));
  auto dispatch = [&](auto scalar, auto index) -> decltype(auto) {
    using Scalar = decltype(scalar);
    using StorageIndex = decltype(index);
    if (!py::isinstance<py::array_t<StorageIndex>>(indptr)) {
      throw py::type_error("sparse X: indptr must have the dtype of indices (" +
                           dtype_name(indices) + "), got " + dtype_name(indptr));
    }
    const auto* values = static_cast<const Scalar*>(data.data());
    const auto* inner = static_cast<const StorageIndex*>(indices.data());
    const auto* outer = static_cast<const StorageIndex*>(indptr.data());
    if (by_rows) {
      return fn(multilogit::SparseView<Scalar, Eigen::RowMajor, StorageIndex>(
          shape.first, shape.second, nnz, outer, inner, values));
    }
    return fn(multilogit::SparseView<Scalar, Eigen::ColMajor, StorageIndex>(
        shape.first, shape.second, nnz, outer, inner, values));
  };
  auto with_index = [&](auto scalar) -> decltype(auto) {
    if (py::isinstance<py::array_t<std::int32_t>>(indices)) return dispatch(scalar, std::int32_t{});
    if (py::isinstance<py::array_t<std::int64_t>>(indices)) return dispatch(scalar, std::int64_t{});
    throw py::type_error("sparse X: indices must be int32 or int64, got " + dtype_name(indices));
  };
  if (py::isinstance<py::array_t<double>>(data)) return with_index(double{});
  if (py::isinstance<py::array_t<float>>(data)) return with_index(float{});
  throw py::type_error("X must have dtype float32 or float64, got " + dtype_name(data));
}

// Calls fn(view) with X: a NumPy array or the parts of a sparse matrix (see with_sparse).
template <typename Fn>
decltype(auto) with_matrix(const py::object& X, Fn&& fn) {
  if (py::isinstance<py::tuple>(X)) return with_sparse(X.cast<py::tuple>(), std::forward<Fn>(fn));
  if (!py::isinstance<py::array>(X)) {
    throw py::type_error("X must be a NumPy array or the parts of a CSR/CSC matrix");
  }
  return with_dense(X.cast<py::array>(), std::forward<Fn>(fn));
}

Eigen::Map<const Eigen::VectorXi> label_view(const py::array& y) {
  if (!py::isinstance<py::array_t<std::int32_t>>(y) || y.ndim() != 1 ||
      !(y.flags() & py::array::c_style)) {
    throw py::type_error("y must be a contiguous 1-D int32 array of class indices, got dtype " +
                         dtype_name(y) + " with " + std::to_string(y.ndim()) + " dimension(s)");
  }
  return {static_cast<const int*>(y.data()), static_cast<Eigen::Index>(y.shape(0))};
}

// A model rebuilt from its arrays, which must have the dtype of the data it will score.
template <typename Scalar>
Model<Scalar> model_from_arrays(const std::string& strategy, int n_classes, const py::array& coef,
                                const py::array& intercept) {
  if (!py::isinstance<py::array_t<Scalar>>(coef) || !py::isinstance<py::array_t<Scalar>>(intercept)) {
    throw py::type_error("coef and intercept must have the dtype of X (" +
                         std::string(sizeof(Scalar) == 4 ? "float32" : "float64") + "), got " +
                         dtype_name(coef) + " and " + dtype_name(intercept));
  }
  if (coef.ndim() != 2 || intercept.ndim() != 1) {
    throw py::value_error("coef must be 2-D and intercept 1-D");
  }
  auto c = coef.cast<py::array_t<Scalar, py::array::c_style | py::array::forcecast>>();
  auto b = intercept.cast<py::array_t<Scalar, py::array::c_style | py::array::forcecast>>();
  RowMatrix<Scalar> coef_matrix = Eigen::Map<const RowMatrix<Scalar>>(c.data(), c.shape(0), c.shape(1));
  multilogit::Vector<Scalar> intercept_vector =
      Eigen::Map<const multilogit::Vector<Scalar>>(b.data(), b.shape(0));
  return Model<Scalar>(multilogit::parse_strategy(strategy), n_classes, std::move(coef_matrix),
                       std::move(intercept_vector));
}

Eigen::Map<const Eigen::VectorXd> weight_view(const std::optional<py::array>& sample_weight) {
  if (!sample_weight) return {nullptr, 0};
  const py::array& w = *sample_weight;
  if (!py::isinstance<py::array_t<double>>(w) || w.ndim() != 1 || !(w.flags() & py::array::c_style)) {
    throw py::type_error("sample_weight must be a contiguous 1-D float64 array, got dtype " +
                         dtype_name(w) + " with " + std::to_string(w.ndim()) + " dimension(s)");
  }
  return {static_cast<const double*>(w.data()), static_cast<Eigen::Index>(w.shape(0))};
}

// The options a model is trained with and a model file records.
multilogit::TrainOptions train_options(double C, double l1_ratio, bool fit_intercept, double tol,
                                       int max_iter) {
  multilogit::TrainOptions options;
  options.C = C;
  options.l1_ratio = l1_ratio;
  options.fit_intercept = fit_intercept;
  options.tol = tol;
  options.max_iter = max_iter;
  return options;
}

// Python errors during a fit: Ctrl-C, or an exception in the progress callback. Python runs
// signal handlers only on its main thread, so that thread checks for them after each of its
// solver iterations (with the GIL); the first error raises a flag that stops every thread, and
// is re-raised once C++ returns.
class InterruptWatch {
 public:
  bool should_stop() {
    if (std::this_thread::get_id() == caller_ && !raised_) {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) raise(py::error_already_set());
    }
    return raised_;
  }

  // Keeps the first error; call with the GIL held.
  void raise(py::error_already_set error) {
    if (!error_) error_.emplace(std::move(error));
    raised_ = true;
  }

  [[noreturn]] void rethrow() {
    if (error_) throw *error_;
    throw py::value_error("training interrupted");
  }

 private:
  std::thread::id caller_ = std::this_thread::get_id();
  std::atomic<bool> raised_{false};
  std::optional<py::error_already_set> error_;
};

py::dict fit(const py::object& X, const py::array& y, int n_classes, const std::string& strategy,
             double C, bool fit_intercept, double tol, int max_iter, int n_threads,
             const std::optional<py::function>& progress,
             const std::optional<py::array>& sample_weight,
             const std::optional<py::array>& initial_coef,
             const std::optional<py::array>& initial_intercept, double l1_ratio,
             const std::string& solver) {
  const auto labels = label_view(y);
  const auto weights = weight_view(sample_weight);
  multilogit::TrainOptions options = train_options(C, l1_ratio, fit_intercept, tol, max_iter);
  options.n_threads = n_threads;
  options.solver = multilogit::parse_solver(solver);
  InterruptWatch interrupt;
  options.should_stop = [&interrupt] { return interrupt.should_stop(); };
  if (progress) {
    // An exception in the callback (Ctrl-C included) stops the fit and is re-raised after it.
    options.on_iteration = [&progress, &interrupt](const multilogit::IterationInfo& info) {
      py::gil_scoped_acquire gil;
      try {
        (*progress)(info.problem, info.iteration, info.objective, info.gradient_norm, info.finished);
      } catch (py::error_already_set& error) {
        interrupt.raise(std::move(error));
      }
    };
  }
  const Strategy parsed = multilogit::parse_strategy(strategy);
  return with_matrix(X, [&](const auto& matrix) {
    using Scalar = typename std::decay_t<decltype(matrix)>::Scalar;
    std::optional<Model<Scalar>> initial;
    if (initial_coef && initial_intercept) {
      initial.emplace(model_from_arrays<Scalar>(strategy, n_classes, *initial_coef, *initial_intercept));
    }
    const auto trainer = multilogit::make_trainer<Scalar>(parsed, options);
    std::optional<Model<Scalar>> model;
    bool interrupted = false;
    {
      py::gil_scoped_release release;
      try {
        model.emplace(trainer->fit(matrix, labels, n_classes, weights,
                                   initial ? &*initial : nullptr));
      } catch (const multilogit::Interrupted&) {
        interrupted = true;
      }
    }
    if (interrupted) interrupt.rethrow();
    const auto& reports = model->reports();
    py::array_t<std::int32_t> n_iter(static_cast<py::ssize_t>(reports.size()));
    py::array_t<std::int32_t> n_evaluations(static_cast<py::ssize_t>(reports.size()));
    py::array_t<bool> converged(static_cast<py::ssize_t>(reports.size()));
    py::array_t<double> objective(static_cast<py::ssize_t>(reports.size()));
    for (size_t k = 0; k < reports.size(); ++k) {
      n_iter.mutable_at(k) = reports[k].n_iter;
      n_evaluations.mutable_at(k) = reports[k].n_evaluations;
      converged.mutable_at(k) = reports[k].converged();
      objective.mutable_at(k) = reports[k].objective;
    }
    py::dict result;
    result["coef"] = py::cast(model->coef());
    result["intercept"] = py::cast(model->intercept());
    result["n_iter"] = n_iter;
    result["n_evaluations"] = n_evaluations;
    result["converged"] = converged;
    result["objective"] = objective;
    return result;
  });
}

// A Python function (X, strategy, n_classes, coef, intercept, n_threads) -> array that rebuilds
// the model from its arrays and runs compute(model, X, n_threads) without the GIL.
template <typename Compute>
auto prediction_function(Compute compute) {
  return [compute](const py::object& X, const std::string& strategy, int n_classes,
                   const py::array& coef, const py::array& intercept, int n_threads) {
    return with_matrix(X, [&](const auto& matrix) -> py::object {
      using Scalar = typename std::decay_t<decltype(matrix)>::Scalar;
      const Model<Scalar> model = model_from_arrays<Scalar>(strategy, n_classes, coef, intercept);
      decltype(compute(model, matrix, n_threads)) result;
      {
        py::gil_scoped_release release;
        result = compute(model, matrix, n_threads);
      }
      return py::cast(std::move(result));
    });
  };
}

// Model files (multilogit/model_file.hpp). The estimator hands over its arrays, its labels
// (an int64 array, or a list of UTF-8 encoded bytes) and its options; the C++ side writes and
// parses the bytes, so Python and C++ files are the same by construction.
template <typename Scalar>
multilogit::SavedModel saved_model_from(const std::string& strategy, const py::array& coef,
                                        const py::array& intercept,
                                        multilogit::ClassLabels classes,
                                        const multilogit::TrainOptions& options,
                                        std::vector<std::string> feature_names) {
  const int n_classes = static_cast<int>(
      std::visit([](const auto& labels) { return labels.size(); }, classes));
  return multilogit::SavedModel(model_from_arrays<Scalar>(strategy, n_classes, coef, intercept),
                                std::move(classes), options, std::move(feature_names));
}

py::bytes encode_model(const std::string& strategy, const py::array& coef,
                       const py::array& intercept, const py::object& classes,
                       const std::optional<std::vector<std::string>>& feature_names, double C,
                       double l1_ratio, bool fit_intercept, double tol, int max_iter) {
  multilogit::ClassLabels labels;
  if (py::isinstance<py::array>(classes)) {
    const auto array = classes.cast<py::array>();
    if (!py::isinstance<py::array_t<std::int64_t>>(array) || array.ndim() != 1) {
      throw py::type_error("integer classes must be a 1-D int64 array, got dtype " +
                           dtype_name(array));
    }
    const auto ints = array.cast<py::array_t<std::int64_t, py::array::c_style>>();
    labels = std::vector<std::int64_t>(ints.data(), ints.data() + ints.shape(0));
  } else {
    labels = classes.cast<std::vector<std::string>>();
  }
  const multilogit::TrainOptions options =
      train_options(C, l1_ratio, fit_intercept, tol, max_iter);
  std::vector<std::string> names = feature_names.value_or(std::vector<std::string>{});
  std::vector<std::uint8_t> bytes;
  if (py::isinstance<py::array_t<double>>(coef)) {
    bytes = multilogit::encode_model(
        saved_model_from<double>(strategy, coef, intercept, std::move(labels), options, std::move(names)));
  } else if (py::isinstance<py::array_t<float>>(coef)) {
    bytes = multilogit::encode_model(
        saved_model_from<float>(strategy, coef, intercept, std::move(labels), options, std::move(names)));
  } else {
    throw py::type_error("coef must have dtype float32 or float64, got " + dtype_name(coef));
  }
  return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

py::dict decode_model(const py::bytes& data) {
  char* buffer = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(data.ptr(), &buffer, &size) != 0) throw py::error_already_set();
  std::optional<multilogit::SavedModel> saved;
  {
    py::gil_scoped_release release;  // `data` keeps the buffer alive
    saved.emplace(multilogit::decode_model(reinterpret_cast<const std::uint8_t*>(buffer),
                                           static_cast<std::size_t>(size)));
  }
  py::dict result;
  std::visit(
      [&](const auto& model) {
        result["strategy"] = std::string(multilogit::to_string(model.strategy()));
        result["coef"] = py::cast(model.coef());
        result["intercept"] = py::cast(model.intercept());
      },
      saved->model);
  if (const auto* ints = std::get_if<std::vector<std::int64_t>>(&saved->classes)) {
    py::array_t<std::int64_t> classes(static_cast<py::ssize_t>(ints->size()));
    std::copy(ints->begin(), ints->end(), classes.mutable_data());
    result["classes"] = classes;
  } else {
    result["classes"] = py::cast(std::get<std::vector<std::string>>(saved->classes));  // str
  }
  result["feature_names"] =
      saved->feature_names.empty() ? py::object(py::none()) : py::cast(saved->feature_names);
  result["C"] = saved->options.C;
  result["l1_ratio"] = saved->options.l1_ratio;
  result["fit_intercept"] = saved->options.fit_intercept;
  result["tol"] = saved->options.tol;
  result["max_iter"] = saved->options.max_iter;
  return result;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Compiled core of multilogit (internal: use multilogit.LogisticRegression).";

  m.def("fit", &fit, py::arg("X"), py::arg("y"), py::arg("n_classes"), py::arg("strategy"),
        py::arg("C"), py::arg("fit_intercept"), py::arg("tol"), py::arg("max_iter"),
        py::arg("n_threads"), py::arg("progress") = py::none(), py::arg("sample_weight") = py::none(),
        py::arg("initial_coef") = py::none(), py::arg("initial_intercept") = py::none(),
        py::arg("l1_ratio") = 0.0, py::arg("solver") = "auto",
        "Trains a model; returns its coefficients and a report per sub-problem.");

  // Two classes give one score per row: a 1-D array, as scikit-learn's decision_function.
  const auto decision = prediction_function([](const auto& model, const auto& X, int n_threads) {
    return model.decision_function(X, n_threads);
  });
  m.def(
      "decision_function",
      [decision](const py::object& X, const std::string& strategy, int n_classes,
                 const py::array& coef, const py::array& intercept, int n_threads) {
        py::object scores = decision(X, strategy, n_classes, coef, intercept, n_threads);
        return n_classes == 2 ? scores.attr("reshape")(-1) : scores;
      },
      py::arg("X"), py::arg("strategy"), py::arg("n_classes"), py::arg("coef"),
      py::arg("intercept"), py::arg("n_threads"), "Scores, (n,) for two classes else (n, K).");

  m.def("predict_proba",
        prediction_function([](const auto& model, const auto& X, int n_threads) {
          return model.predict_proba(X, n_threads);
        }),
        py::arg("X"), py::arg("strategy"), py::arg("n_classes"), py::arg("coef"),
        py::arg("intercept"), py::arg("n_threads"), "Class probabilities, (n, K).");

  m.def("predict",
        prediction_function([](const auto& model, const auto& X, int n_threads) {
          return model.predict(X, n_threads);
        }),
        py::arg("X"), py::arg("strategy"), py::arg("n_classes"), py::arg("coef"),
        py::arg("intercept"), py::arg("n_threads"), "Predicted class indices, int32 (n,).");

  m.def("encode_model", &encode_model, py::arg("strategy"), py::arg("coef"), py::arg("intercept"),
        py::arg("classes"), py::arg("feature_names"), py::arg("C"), py::arg("l1_ratio"),
        py::arg("fit_intercept"), py::arg("tol"), py::arg("max_iter"),
        "The model file's bytes (docs/model-format.md).");
  m.def("decode_model", &decode_model, py::arg("data"),
        "Parses a model file's bytes; ValueError naming the problem if they are not one.");
  m.def("instruction_set", &multilogit::active_instruction_set,
        "The instruction set the compute kernels use: 'avx512', 'avx2' or 'generic'.");
}
