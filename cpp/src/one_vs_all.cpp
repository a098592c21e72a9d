#include "multilogit/trainers.hpp"
#include "training.hpp"

namespace multilogit {

template <typename Scalar>
template <int Order>
Model<Scalar> OneVsAllClassifier<Scalar>::fit_impl(const MatrixView<Scalar, Order>& X,
                                                   const LabelView& y, int n_classes,
                                                   const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::OneVsAll, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::OneVsAll, X, y, options, inputs);

  // The problems are independent: spread them over the threads, each solved single-threaded.
  detail::ThreadPool pool(options.resolved_threads());
  RowMatrix<Scalar> coef(n_classes, X.cols());
  Vector<Scalar> intercept(n_classes);
  std::vector<ProblemReport> reports(static_cast<size_t>(n_classes));
  const detail::RowSet<Scalar, Order> all_rows(X);
  pool.run(n_classes, [&](Index k) {
    reports[static_cast<size_t>(k)] =
        detail::fit_binary_problem(all_rows, y, static_cast<int>(k), options, inputs, nullptr,
                                   static_cast<int>(k), k, coef, intercept);
  });
  return Model<Scalar>(Strategy::OneVsAll, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

template <typename Scalar>
Model<Scalar> OneVsAllClassifier<Scalar>::fit_dense(const MatrixView<Scalar, Eigen::RowMajor>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar>
Model<Scalar> OneVsAllClassifier<Scalar>::fit_dense(const MatrixView<Scalar, Eigen::ColMajor>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return fit_impl(X, y, n_classes, inputs);
}

template class OneVsAllClassifier<float>;
template class OneVsAllClassifier<double>;

}  // namespace multilogit
