// The three training strategies. Each owns its training loop and returns a Model.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "multilogit/model.hpp"
#include "multilogit/options.hpp"
#include "multilogit/strategy.hpp"
#include "multilogit/types.hpp"

namespace multilogit {

// Per-row weights: n values >= 0 (a row of weight k counts as k copies of it); an empty view
// means unit weights.
using WeightView = Eigen::Ref<const Eigen::VectorXd>;

// What a fit starts from besides X and y.
template <typename Scalar>
struct FitInputs {
  const double* sample_weight = nullptr;   // one weight per row, or null for unit weights
  const Model<Scalar>* initial = nullptr;  // warm start: a model of the same shape, or null
};

template <typename Scalar>
class Trainer {
 public:
  explicit Trainer(TrainOptions options) : options_(std::move(options)) { options_.validate(); }
  virtual ~Trainer() = default;

  const TrainOptions& options() const { return options_; }

  // X is n x d (float or double, row- or column-major, read in place); y holds n class indices
  // in [0, n_classes), every class present. Throws std::invalid_argument on bad input.
  template <typename Derived>
  Model<Scalar> fit(const Eigen::MatrixBase<Derived>& X, const LabelView& y, int n_classes) const {
    return fit_view(MatrixView<Scalar, storage_order_of<Derived>()>(X), y, n_classes, {});
  }

  // The same with a weight per row (every class needs a positive total weight) and, when
  // `initial` is given, starting from its coefficients (same strategy, classes and features).
  template <typename Derived>
  Model<Scalar> fit(const Eigen::MatrixBase<Derived>& X, const LabelView& y, int n_classes,
                    const WeightView& sample_weight, const Model<Scalar>* initial = nullptr) const {
    return fit_view(MatrixView<Scalar, storage_order_of<Derived>()>(X), y, n_classes,
                    inputs(X.rows(), sample_weight, initial));
  }

  // Sparse X (CSR or CSC, read in place), optionally weighted and warm-started.
  template <int Order, typename StorageIndex>
  Model<Scalar> fit(const SparseView<Scalar, Order, StorageIndex>& X, const LabelView& y,
                    int n_classes, const WeightView& sample_weight = Eigen::VectorXd(),
                    const Model<Scalar>* initial = nullptr) const {
    return fit_view(X, y, n_classes, inputs(X.rows(), sample_weight, initial));
  }

 protected:
  template <int Order>
  using Dense = MatrixView<Scalar, Order>;
  template <int Order, typename StorageIndex>
  using Sparse = SparseView<Scalar, Order, StorageIndex>;

  // One entry point per storage; every strategy implements them all with one template.
  virtual Model<Scalar> fit_view(const Dense<Eigen::RowMajor>& X, const LabelView& y,
                                 int n_classes, const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_view(const Dense<Eigen::ColMajor>& X, const LabelView& y,
                                 int n_classes, const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_view(const Sparse<Eigen::RowMajor, int>& X, const LabelView& y,
                                 int n_classes, const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_view(const Sparse<Eigen::ColMajor, int>& X, const LabelView& y,
                                 int n_classes, const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_view(const Sparse<Eigen::RowMajor, std::int64_t>& X,
                                 const LabelView& y, int n_classes,
                                 const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_view(const Sparse<Eigen::ColMajor, std::int64_t>& X,
                                 const LabelView& y, int n_classes,
                                 const FitInputs<Scalar>& inputs) const = 0;

 private:
  static FitInputs<Scalar> inputs(Index n_rows, const WeightView& sample_weight,
                                  const Model<Scalar>* initial) {
    if (sample_weight.size() != 0 && sample_weight.size() != n_rows) {
      throw std::invalid_argument("sample_weight has " + std::to_string(sample_weight.size()) +
                                  " entries but X has " + std::to_string(n_rows) + " rows");
    }
    return {sample_weight.size() ? sample_weight.data() : nullptr, initial};
  }

  TrainOptions options_;
};

// Implements every entry point of Trainer with the strategy's fit_impl template.
template <typename Scalar, typename Derived>
class TrainerFor : public Trainer<Scalar> {
 public:
  using Trainer<Scalar>::Trainer;

 protected:
  template <int Order>
  using Dense = MatrixView<Scalar, Order>;
  template <int Order, typename StorageIndex>
  using Sparse = SparseView<Scalar, Order, StorageIndex>;

  // Defined where each strategy's fit_impl is, and compiled there for float and double: user
  // code calls them without ever needing a fit_impl of its own.
  Model<Scalar> fit_view(const Dense<Eigen::RowMajor>& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_view(const Dense<Eigen::ColMajor>& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_view(const Sparse<Eigen::RowMajor, int>& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_view(const Sparse<Eigen::ColMajor, int>& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_view(const Sparse<Eigen::RowMajor, std::int64_t>& X, const LabelView& y,
                         int n_classes, const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_view(const Sparse<Eigen::ColMajor, std::int64_t>& X, const LabelView& y,
                         int n_classes, const FitInputs<Scalar>& inputs) const override;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// Multinomial logistic regression: one softmax over n_classes linear units.
template <typename Scalar>
class SoftmaxRegression final : public TrainerFor<Scalar, SoftmaxRegression<Scalar>> {
 public:
  explicit SoftmaxRegression(TrainOptions options = {})
      : TrainerFor<Scalar, SoftmaxRegression<Scalar>>(std::move(options)) {}

 private:
  friend class TrainerFor<Scalar, SoftmaxRegression<Scalar>>;
  template <typename Matrix>
  Model<Scalar> fit_impl(const Matrix& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const;
};

// One binary model per class, that class against all others. The problems advance together,
// one pass over X per round for all of them (up to 64 at a time), each stopping on its own.
template <typename Scalar>
class OneVsAllClassifier final : public TrainerFor<Scalar, OneVsAllClassifier<Scalar>> {
 public:
  explicit OneVsAllClassifier(TrainOptions options = {})
      : TrainerFor<Scalar, OneVsAllClassifier<Scalar>>(std::move(options)) {}

 private:
  friend class TrainerFor<Scalar, OneVsAllClassifier<Scalar>>;
  template <typename Matrix>
  Model<Scalar> fit_impl(const Matrix& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const;
};

// One binary model per pair of classes (i < j), trained on the rows of i and j, j positive.
// On large data the pairs advance together, one pass over each class's rows per round for all
// its pairs; on small data they are fitted one by one, spread over the threads.
template <typename Scalar>
class OneVsOneClassifier final : public TrainerFor<Scalar, OneVsOneClassifier<Scalar>> {
 public:
  explicit OneVsOneClassifier(TrainOptions options = {})
      : TrainerFor<Scalar, OneVsOneClassifier<Scalar>>(std::move(options)) {}

 private:
  friend class TrainerFor<Scalar, OneVsOneClassifier<Scalar>>;
  template <typename Matrix>
  Model<Scalar> fit_impl(const Matrix& X, const LabelView& y, int n_classes,
                         const FitInputs<Scalar>& inputs) const;
};

template <typename Scalar>
std::unique_ptr<Trainer<Scalar>> make_trainer(Strategy strategy, TrainOptions options = {});

// Trains `strategy` on (X, y): the one-call entry point.
template <typename Derived>
Model<typename Derived::Scalar> train(Strategy strategy, const Eigen::MatrixBase<Derived>& X,
                                      const LabelView& y, int n_classes,
                                      const TrainOptions& options = {}) {
  return make_trainer<typename Derived::Scalar>(strategy, options)->fit(X, y, n_classes);
}

// The same with a weight per row.
template <typename Derived>
Model<typename Derived::Scalar> train(Strategy strategy, const Eigen::MatrixBase<Derived>& X,
                                      const LabelView& y, int n_classes,
                                      const WeightView& sample_weight,
                                      const TrainOptions& options = {}) {
  return make_trainer<typename Derived::Scalar>(strategy, options)
      ->fit(X, y, n_classes, sample_weight);
}

// Compiled once, in the library.
extern template class TrainerFor<float, SoftmaxRegression<float>>;
extern template class TrainerFor<double, SoftmaxRegression<double>>;
extern template class TrainerFor<float, OneVsAllClassifier<float>>;
extern template class TrainerFor<double, OneVsAllClassifier<double>>;
extern template class TrainerFor<float, OneVsOneClassifier<float>>;
extern template class TrainerFor<double, OneVsOneClassifier<double>>;

}  // namespace multilogit
