// TrainerFor's entry points, one per storage, each the strategy's fit_impl. A strategy's source
// file includes this before it instantiates TrainerFor for float and double.
#pragma once

#include "multilogit/trainers.hpp"

namespace multilogit {

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Dense<Eigen::RowMajor>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Dense<Eigen::ColMajor>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Sparse<Eigen::RowMajor, int>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Sparse<Eigen::ColMajor, int>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Sparse<Eigen::RowMajor, std::int64_t>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

template <typename Scalar, typename Derived>
Model<Scalar> TrainerFor<Scalar, Derived>::fit_view(const Sparse<Eigen::ColMajor, std::int64_t>& X,
                                                    const LabelView& y, int n_classes,
                                                    const FitInputs<Scalar>& inputs) const {
  return self().fit_impl(X, y, n_classes, inputs);
}

}  // namespace multilogit
