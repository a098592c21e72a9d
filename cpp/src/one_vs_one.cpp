#include <algorithm>
#include <iterator>
#include <utility>

#include "fit_binary_problems.hpp"
#include "multilogit/trainers.hpp"
#include "trainer_for.hpp"
#include "training.hpp"

namespace multilogit {

namespace {

// Share of X's size that the kept curvature of the pairs solved together may take.
constexpr double kCurvatureShareOfX = 0.2;

// The pairs advance together: rows grouped by class through index lists, and a pass over class
// c's rows serves every pair of c being solved. As many pairs are solved at a time as their kept
// curvature (a Scalar per row of the pair) fits in a share of X's size.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
Model<Scalar> fit_pairs_together(const Matrix& X, const LabelView& y, int n_classes,
                                 const std::vector<std::vector<Index>>& rows_of_class,
                                 const TrainOptions& options, const FitInputs<Scalar>& inputs) {
  std::vector<detail::RowSet<Matrix>> groups;
  Index largest_pair = 0;
  for (int i = 0; i < n_classes; ++i) {
    const auto& rows = rows_of_class[static_cast<size_t>(i)];
    groups.emplace_back(X, rows.data(), static_cast<Index>(rows.size()));
    for (int j = i + 1; j < n_classes; ++j) {
      const size_t pair_rows = rows.size() + rows_of_class[static_cast<size_t>(j)].size();
      largest_pair = std::max(largest_pair, static_cast<Index>(pair_rows));
    }
  }
  std::vector<detail::BinaryProblem> pairs = detail::one_vs_one_problems(n_classes);
  const int n_pairs = static_cast<int>(pairs.size());
  const double budget =
      kCurvatureShareOfX * detail::stored_values(X) / static_cast<double>(largest_pair);
  const int n_together = static_cast<int>(std::clamp<double>(
      budget, std::min(2, n_pairs), std::min(n_pairs, detail::kMaxProblemsTogether)));
  const detail::ProblemTraits traits = detail::traits_of(detail::RowSet<Matrix>(X), n_together);
  return detail::fit_binary_problems(Strategy::OneVsOne, X, groups, std::move(pairs), y,
                                     n_classes, n_together, traits, options, inputs);
}

// Each pair on its own, the pairs spread over the threads.
template <typename Matrix, typename Scalar = typename Matrix::Scalar>
Model<Scalar> fit_pairs_apart(const Matrix& X, const LabelView& y, int n_classes,
                              const std::vector<std::vector<Index>>& rows_of_class,
                              const TrainOptions& options, const FitInputs<Scalar>& inputs) {
  const std::vector<detail::BinaryProblem> pairs = detail::one_vs_one_problems(n_classes);
  const Index n_pairs = static_cast<Index>(pairs.size());
  detail::ThreadPool pool(options.resolved_threads());
  RowMatrix<Scalar> coef(n_pairs, X.cols());
  Vector<Scalar> intercept(n_pairs);
  std::vector<ProblemReport> reports(pairs.size());
  pool.run(n_pairs, [&](Index p) {
    const detail::BinaryProblem& pair = pairs[static_cast<size_t>(p)];
    const auto& rows_i = rows_of_class[static_cast<size_t>(pair.groups[0])];
    const auto& rows_j = rows_of_class[static_cast<size_t>(pair.groups[1])];
    ProblemReport& report = reports[static_cast<size_t>(p)];
    if constexpr (detail::RowSet<Matrix>::kWholeOnly) {
      // Compressed columns cannot be read by row: the pair reads all of X with weight zero on
      // the rows of other classes, which gives the same objective (at K/2 times the work).
      Eigen::VectorXd weights = Eigen::VectorXd::Zero(X.rows());
      for (const auto* rows : {&rows_i, &rows_j}) {
        for (Index r : *rows) weights[r] = inputs.sample_weight ? inputs.sample_weight[r] : 1.0;
      }
      report = detail::fit_binary_problem(detail::RowSet<Matrix>(X), y, pair.positive, options,
                                          weights.data(), inputs.initial, nullptr,
                                          static_cast<int>(p), p, coef, intercept);
    } else {
      // The pair reads X through the merged, ascending index list of its two classes.
      std::vector<Index> rows;
      rows.reserve(rows_i.size() + rows_j.size());
      std::merge(rows_i.begin(), rows_i.end(), rows_j.begin(), rows_j.end(),
                 std::back_inserter(rows));
      const detail::RowSet<Matrix> pair_rows(X, rows.data(), static_cast<Index>(rows.size()));
      report = detail::fit_binary_problem(pair_rows, y, pair.positive, options, inputs, nullptr,
                                          static_cast<int>(p), p, coef, intercept);
    }
  });
  return Model<Scalar>(Strategy::OneVsOne, n_classes, std::move(coef), std::move(intercept),
                       std::move(reports));
}

}  // namespace

template <typename Scalar>
template <typename Matrix>
Model<Scalar> OneVsOneClassifier<Scalar>::fit_impl(const Matrix& X, const LabelView& y,
                                                   int n_classes,
                                                   const FitInputs<Scalar>& inputs) const {
  const TrainOptions& options = this->options();
  detail::check_training_data(Strategy::OneVsOne, X, y, n_classes, inputs);
  if (n_classes == 2) return detail::fit_two_classes(Strategy::OneVsOne, X, y, options, inputs);
  const auto rows_of_class = detail::rows_by_class(y, n_classes);
  if constexpr (!detail::RowSet<Matrix>::kWholeOnly) {  // compressed columns: by row is slow
    if (detail::pairs_share_passes(rows_of_class, detail::stored_values(X))) {
      return fit_pairs_together(X, y, n_classes, rows_of_class, options, inputs);
    }
  }
  return fit_pairs_apart(X, y, n_classes, rows_of_class, options, inputs);
}

template class TrainerFor<float, OneVsOneClassifier<float>>;
template class TrainerFor<double, OneVsOneClassifier<double>>;

}  // namespace multilogit
