#include <algorithm>

#include "fit_binary_problems.hpp"
#include "multilogit/trainers.hpp"
#include "trainer_for.hpp"
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
  // The problems share all rows: each pass over X, threaded over its rows, serves all of them.
  const int n_together = std::min(n_classes, detail::kMaxProblemsTogether);
  const detail::RowSet<Matrix> all_rows(X);
  return detail::fit_binary_problems(Strategy::OneVsAll, X, {all_rows},
                                     detail::one_vs_all_problems(n_classes), y, n_classes,
                                     n_together, detail::traits_of(all_rows, n_together),
                                     options, inputs);
}

template class TrainerFor<float, OneVsAllClassifier<float>>;
template class TrainerFor<double, OneVsAllClassifier<double>>;

}  // namespace multilogit
