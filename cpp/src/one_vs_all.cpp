#include "batched_problems.hpp"
#include "multilogit/trainers.hpp"
#include "one_vs_all_loss.hpp"
#include "training.hpp"

namespace multilogit {

// Problems solved together at most: each has a thread of its own, and with curvature kept for
// the Newton solvers, a column of n Scalars.
constexpr int kMaxProblemsTogether = 64;

template <typename Scalar>
template <typename Matrix>
Model<Scalar> OneVsAllClassifier<Scalar>::fit_impl(const Matrix& X, const LabelView& y,
                                                   int n_classes,
                                                   const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::OneVsAll, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::OneVsAll, X, y, options, inputs);

  // The problems share X: their solvers advance together, and each pass over X, threaded over
  // its rows, serves all of them (batched_problems.hpp).
  const int n_together = std::min(n_classes, kMaxProblemsTogether);
  detail::ThreadPool pool(options.resolved_threads());
  detail::OneVsAllLoss<Matrix> loss(detail::RowSet<Matrix>(X), y.data(), inputs.sample_weight,
                                    n_together, options.fit_intercept, options.C,
                                    options.l1_ratio, &pool);
  detail::BatchedProblems<detail::OneVsAllLoss<Matrix>> batch(
      loss, n_together, options.resolved_threads(), options.should_stop);

  RowMatrix<Scalar> coef(n_classes, X.cols());
  Vector<Scalar> intercept(n_classes);
  std::vector<ProblemReport> reports(static_cast<size_t>(n_classes));
  batch.run(n_classes, [&](int k, auto& objective) {
    Eigen::VectorXd w =
        detail::starting_point(inputs.initial, X.cols(), 1, options.fit_intercept, k);
    reports[static_cast<size_t>(k)] = detail::solve(objective, w, options, k, 1, n_together,
                                                    detail::RowSet<Matrix>::kSparse);
    detail::store_units(w, X.cols(), 1, options.fit_intercept, k, coef, intercept);
  });
  return Model<Scalar>(Strategy::OneVsAll, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

template class TrainerFor<float, OneVsAllClassifier<float>>;
template class TrainerFor<double, OneVsAllClassifier<double>>;

}  // namespace multilogit
