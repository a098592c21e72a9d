#include "multilogit/trainers.hpp"
#include "trainer_for.hpp"
#include "training.hpp"

namespace multilogit {

template <typename Scalar>
template <typename Matrix>
Model<Scalar> SoftmaxRegression<Scalar>::fit_impl(const Matrix& X, const LabelView& y,
                                                  int n_classes,
                                                  const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::Softmax, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::Softmax, X, y, options, inputs);

  detail::ThreadPool pool(options.resolved_threads());
  const detail::RowSet<Matrix> rows(X);
  detail::LinearLoss<Matrix, detail::SoftmaxLink> loss(
      rows, y.data(), inputs.sample_weight, detail::SoftmaxLink{n_classes},
      n_classes, options.fit_intercept, options.C, options.l1_ratio, &pool);
  Eigen::VectorXd w =
      detail::starting_point(inputs.initial, X.cols(), n_classes, options.fit_intercept, 0,
                             loss.constant_predictor_intercepts());
  const ProblemReport report =
      detail::solve(loss, w, options, 0, detail::traits_of(rows, 1));

  RowMatrix<Scalar> coef(n_classes, X.cols());
  Vector<Scalar> intercept(n_classes);
  detail::store_units(w, X.cols(), n_classes, options.fit_intercept, 0, coef, intercept);
  return Model<Scalar>(Strategy::Softmax, n_classes, std::move(coef), std::move(intercept),
                       {report});
}

template class TrainerFor<float, SoftmaxRegression<float>>;
template class TrainerFor<double, SoftmaxRegression<double>>;

}  // namespace multilogit
