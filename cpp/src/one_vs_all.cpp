#include "multilogit/trainers.hpp"
#include "training.hpp"

namespace multilogit {

template <typename Scalar>
template <typename Matrix>
Model<Scalar> OneVsAllClassifier<Scalar>::fit_impl(const Matrix& X, const LabelView& y,
                                                   int n_classes,
                                                   const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::OneVsAll, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::OneVsAll, X, y, options, inputs);

  // The problems are independent: spread them over the threads, each solved single-threaded.
  detail::ThreadPool pool(options.resolved_threads());
  RowMatrix<Scalar> coef(n_classes, X.cols());
  Vector<Scalar> intercept(n_classes);
  std::vector<ProblemReport> reports(static_cast<size_t>(n_classes));
  const detail::RowSet<Matrix> all_rows(X);
  pool.run(n_classes, [&](Index k) {
    reports[static_cast<size_t>(k)] =
        detail::fit_binary_problem(all_rows, y, static_cast<int>(k), options, inputs, nullptr,
                                   static_cast<int>(k), k, coef, intercept);
  });
  return Model<Scalar>(Strategy::OneVsAll, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

template class TrainerFor<float, OneVsAllClassifier<float>>;
template class TrainerFor<double, OneVsAllClassifier<double>>;

}  // namespace multilogit
