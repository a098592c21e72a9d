// The fused loss/gradient pass against finite differences and a direct evaluation.
#include <cmath>

#include <gtest/gtest.h>

#include "blobs.hpp"
#include "linear_loss.hpp"
#include "links.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;

// Each row's loss, written out independently of the kernels.
double row_loss(const Eigen::VectorXd& z, int label, const detail::BinaryLink& link) {
  const double margin = label == link.positive_class ? z[0] : -z[0];
  return std::log1p(std::exp(-margin));
}

double row_loss(const Eigen::VectorXd& z, int label, const detail::SoftmaxLink&) {
  return std::log(z.array().exp().sum()) - z[label];
}

template <class Link>
double direct_objective(const Eigen::MatrixXd& X, const Eigen::VectorXi& y,
                        const Eigen::VectorXd& s, const Link& link, int n_units,
                        const Eigen::VectorXd& w, double C) {
  const Eigen::Index d = X.cols();
  const Eigen::Map<const Eigen::MatrixXd> W(w.data(), d, n_units);
  const Eigen::MatrixXd Z = (X * W).rowwise() + w.tail(n_units).transpose();
  double loss = 0;
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    loss += s[i] * row_loss(Z.row(i).transpose(), y[i], link);
  }
  const double S = s.sum();
  return loss / S + W.squaredNorm() / (2 * C * S);
}

template <class Link>
void check_gradient(const Link& link, int n_units) {
  const auto data = make_blobs(4, 300, 7, 2.0);
  const MatrixView<double, Eigen::ColMajor> X(data.X);
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(X.rows(), 0.0, 3.0);
  detail::LinearLoss<MatrixView<double, Eigen::ColMajor>, Link> loss(detail::RowSet<MatrixView<double, Eigen::ColMajor>>(X),
                                                          data.y.data(), weights.data(), link,
                                                          n_units, true, 0.5, 0.0, nullptr);
  Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(loss.dimension(), -0.3, 0.2);
  Eigen::VectorXd g(loss.dimension()), scratch(loss.dimension());
  const double f = loss.evaluate(w, g);
  EXPECT_NEAR(f, direct_objective(data.X, data.y, weights, link, n_units, w, 0.5), 1e-12 * std::abs(f));
  for (Eigen::Index j = 0; j < w.size(); ++j) {
    const double h = 1e-6;
    Eigen::VectorXd plus = w, minus = w;
    plus[j] += h;
    minus[j] -= h;
    const double numeric = (loss.evaluate(plus, scratch) - loss.evaluate(minus, scratch)) / (2 * h);
    EXPECT_NEAR(g[j], numeric, 1e-7) << "parameter " << j;
  }
}

// Weighted rows, several chunks and slabs: the fused pass against a direct evaluation and the
// gradient against central differences.
TEST(LinearLoss, BinaryGradientMatchesFiniteDifferences) {
  check_gradient(detail::BinaryLink{2}, 1);
}

TEST(LinearLoss, SoftmaxGradientMatchesFiniteDifferences) {
  check_gradient(detail::SoftmaxLink{4}, 4);
}

// The starting intercepts are the optimum of the intercepts with W = 0: the gradient's
// intercept part vanishes there, for weighted rows; softmax's add up to 0.
template <class Link>
void check_constant_predictor(const Link& link, int n_units) {
  const auto data = make_blobs(4, 300, 7, 2.0);
  const MatrixView<double, Eigen::ColMajor> X(data.X);
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(X.rows(), 0.1, 3.0);
  detail::LinearLoss<MatrixView<double, Eigen::ColMajor>, Link> loss(
      detail::RowSet<MatrixView<double, Eigen::ColMajor>>(X), data.y.data(), weights.data(), link,
      n_units, true, 0.5, 0.0, nullptr);
  const Eigen::VectorXd b = loss.constant_predictor_intercepts();
  ASSERT_EQ(b.size(), n_units);
  EXPECT_GT(b.cwiseAbs().maxCoeff(), 1e-3);  // unequal class weights: not the zero start
  Eigen::VectorXd w = Eigen::VectorXd::Zero(loss.dimension()), g(loss.dimension());
  w.tail(n_units) = b;
  loss.evaluate(w, g);
  EXPECT_LT(g.tail(n_units).cwiseAbs().maxCoeff(), 1e-14);
  if (Link::kShiftInvariant) {
    EXPECT_NEAR(b.sum(), 0.0, 1e-12);
  }
}

TEST(LinearLoss, ConstantPredictorZeroesTheInterceptGradient) {
  check_constant_predictor(detail::BinaryLink{2}, 1);
  check_constant_predictor(detail::SoftmaxLink{4}, 4);
}

TEST(LinearLoss, ConstantPredictorOfAnEmptyClassIsZero) {
  const Eigen::VectorXd no_rest = detail::constant_predictor_intercepts(
      Eigen::VectorXd::Constant(1, 5.0), 5.0, false);
  EXPECT_EQ(no_rest, Eigen::VectorXd::Zero(1));
  const Eigen::VectorXd empty_class = detail::constant_predictor_intercepts(
      Eigen::Vector3d(2.0, 0.0, 3.0), 5.0, true);
  EXPECT_EQ(empty_class, Eigen::VectorXd::Zero(3));
}

TEST(LinearLoss, IdenticalForAnyThreadCountAndRowSubset) {
  const auto data = make_blobs(3, 5000, 20, 1.5);
  const MatrixView<double, Eigen::ColMajor> X(data.X);
  std::vector<Index> odd_rows;
  for (Index i = 1; i < X.rows(); i += 2) odd_rows.push_back(i);
  for (bool subset : {false, true}) {
    const auto rows = subset ? detail::RowSet<MatrixView<double, Eigen::ColMajor>>(X, odd_rows.data(),
                                                                       static_cast<Index>(odd_rows.size()))
                             : detail::RowSet<MatrixView<double, Eigen::ColMajor>>(X);
    Eigen::VectorXd reference_gradient;
    double reference = 0;
    for (int threads : {1, 2, 3, 8}) {
      detail::ThreadPool pool(threads);
      detail::LinearLoss<MatrixView<double, Eigen::ColMajor>, detail::SoftmaxLink> loss(
          rows, data.y.data(), nullptr, detail::SoftmaxLink{3}, 3, true, 1.0, 0.0, &pool);
      const Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(loss.dimension(), -0.1, 0.1);
      Eigen::VectorXd g(loss.dimension());
      const double f = loss.evaluate(w, g);
      if (threads == 1) {
        reference = f;
        reference_gradient = g;
      } else {
        EXPECT_EQ(f, reference) << threads << " threads";
        EXPECT_TRUE((g.array() == reference_gradient.array()).all()) << threads << " threads";
      }
    }
  }
}

}  // namespace
