#include <algorithm>
#include <iterator>
#include <utility>

#include "multilogit/trainers.hpp"
#include "training.hpp"

namespace multilogit {

template <typename Scalar>
template <typename Matrix>
Model<Scalar> OneVsOneClassifier<Scalar>::fit_impl(const Matrix& X, const LabelView& y,
                                                   int n_classes,
                                                   const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::OneVsOne, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::OneVsOne, X, y, options, inputs);
  const auto rows_of_class = detail::rows_by_class(y, n_classes);

  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < n_classes; ++i) {
    for (int j = i + 1; j < n_classes; ++j) pairs.emplace_back(i, j);
  }
  const Index n_pairs = static_cast<Index>(pairs.size());

  // Pairs are independent: spread them over the threads.
  detail::ThreadPool pool(options.resolved_threads());
  RowMatrix<Scalar> coef(n_pairs, X.cols());
  Vector<Scalar> intercept(n_pairs);
  std::vector<ProblemReport> reports(pairs.size());
  pool.run(n_pairs, [&](Index p) {
    const auto [i, j] = pairs[static_cast<size_t>(p)];
    const auto& rows_i = rows_of_class[static_cast<size_t>(i)];
    const auto& rows_j = rows_of_class[static_cast<size_t>(j)];
    ProblemReport& report = reports[static_cast<size_t>(p)];
    if constexpr (detail::RowSet<Matrix>::kWholeOnly) {
      // Compressed columns cannot be read by row: the pair reads all of X with weight zero on
      // the rows of other classes, which gives the same objective (at K/2 times the work).
      Eigen::VectorXd weights = Eigen::VectorXd::Zero(X.rows());
      for (const auto* rows : {&rows_i, &rows_j}) {
        for (Index r : *rows) weights[r] = inputs.sample_weight ? inputs.sample_weight[r] : 1.0;
      }
      report = detail::fit_binary_problem(detail::RowSet<Matrix>(X), y, j, options,
                                          weights.data(), inputs.initial, nullptr,
                                          static_cast<int>(p), p, coef, intercept);
    } else {
      // The pair reads X through the merged, ascending index list of its two classes.
      std::vector<Index> rows;
      rows.reserve(rows_i.size() + rows_j.size());
      std::merge(rows_i.begin(), rows_i.end(), rows_j.begin(), rows_j.end(),
                 std::back_inserter(rows));
      const detail::RowSet<Matrix> pair_rows(X, rows.data(), static_cast<Index>(rows.size()));
      report = detail::fit_binary_problem(pair_rows, y, j, options, inputs, nullptr,
                                          static_cast<int>(p), p, coef, intercept);
    }
  });
  return Model<Scalar>(Strategy::OneVsOne, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

template class TrainerFor<float, OneVsOneClassifier<float>>;
template class TrainerFor<double, OneVsOneClassifier<double>>;

}  // namespace multilogit
