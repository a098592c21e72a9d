// The three training strategies. Each owns its training loop and returns a Model.
#pragma once

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
    return fit_dense(MatrixView<Scalar, storage_order_of<Derived>()>(X), y, n_classes, {});
  }

  // The same with a weight per row (every class needs a positive total weight) and, when
  // `initial` is given, starting from its coefficients (same strategy, classes and features).
  template <typename Derived>
  Model<Scalar> fit(const Eigen::MatrixBase<Derived>& X, const LabelView& y, int n_classes,
                    const WeightView& sample_weight, const Model<Scalar>* initial = nullptr) const {
    if (sample_weight.size() != 0 && sample_weight.size() != X.rows()) {
      throw std::invalid_argument("sample_weight has " + std::to_string(sample_weight.size()) +
                                  " entries but X has " + std::to_string(X.rows()) + " rows");
    }
    return fit_dense(MatrixView<Scalar, storage_order_of<Derived>()>(X), y, n_classes,
                     FitInputs<Scalar>{sample_weight.size() ? sample_weight.data() : nullptr,
                                       initial});
  }

 protected:
  virtual Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::RowMajor>& X, const LabelView& y,
                                  int n_classes, const FitInputs<Scalar>& inputs) const = 0;
  virtual Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::ColMajor>& X, const LabelView& y,
                                  int n_classes, const FitInputs<Scalar>& inputs) const = 0;

 private:
  TrainOptions options_;
};

// Multinomial logistic regression: one softmax over n_classes linear units.
template <typename Scalar>
class SoftmaxRegression final : public Trainer<Scalar> {
 public:
  explicit SoftmaxRegression(TrainOptions options = {}) : Trainer<Scalar>(std::move(options)) {}

 protected:
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::RowMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::ColMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;

 private:
  template <int Order>
  Model<Scalar> fit_impl(const MatrixView<Scalar, Order>& X, const LabelView& y,
                         int n_classes, const FitInputs<Scalar>& inputs) const;
};

// One binary model per class, that class against all others.
template <typename Scalar>
class OneVsAllClassifier final : public Trainer<Scalar> {
 public:
  explicit OneVsAllClassifier(TrainOptions options = {}) : Trainer<Scalar>(std::move(options)) {}

 protected:
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::RowMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::ColMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;

 private:
  template <int Order>
  Model<Scalar> fit_impl(const MatrixView<Scalar, Order>& X, const LabelView& y,
                         int n_classes, const FitInputs<Scalar>& inputs) const;
};

// One binary model per pair of classes (i < j), trained on the rows of i and j, j positive.
template <typename Scalar>
class OneVsOneClassifier final : public Trainer<Scalar> {
 public:
  explicit OneVsOneClassifier(TrainOptions options = {}) : Trainer<Scalar>(std::move(options)) {}

 protected:
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::RowMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;
  Model<Scalar> fit_dense(const MatrixView<Scalar, Eigen::ColMajor>& X, const LabelView& y,
                          int n_classes, const FitInputs<Scalar>& inputs) const override;

 private:
  template <int Order>
  Model<Scalar> fit_impl(const MatrixView<Scalar, Order>& X, const LabelView& y,
                         int n_classes, const FitInputs<Scalar>& inputs) const;
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

extern template class SoftmaxRegression<float>;
extern template class SoftmaxRegression<double>;
extern template class OneVsAllClassifier<float>;
extern template class OneVsAllClassifier<double>;
extern template class OneVsOneClassifier<float>;
extern template class OneVsOneClassifier<double>;

}  // namespace multilogit
