#include "multilogit/model.hpp"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <stdexcept>
#include <string>

#include <Eigen/Cholesky>

#include "kernels/kernels.hpp"
#include "links.hpp"
#include "multilogit/options.hpp"
#include "thread_pool.hpp"
#include "training.hpp"

namespace multilogit {
namespace {

// Pairwise probabilities are kept away from 0 and 1 so the coupling system stays regular.
constexpr double kMinPairProbability = 1e-7;

int resolve_threads(int n_threads) {
  TrainOptions options;
  options.n_threads = std::max(n_threads, 0);
  return options.resolved_threads();
}

// Votes plus summed confidences squashed into (-1/3, 1/3), as scikit-learn's OneVsOneClassifier:
// pair (i, j) votes for j when its score is positive.
template <typename Scalar>
void one_vs_one_votes(const Scalar* pair_scores, int n_classes, Scalar* out) {
  std::vector<double> votes(static_cast<size_t>(n_classes), 0.0);
  std::vector<double> confidence(static_cast<size_t>(n_classes), 0.0);
  int p = 0;
  for (int i = 0; i < n_classes; ++i) {
    for (int j = i + 1; j < n_classes; ++j, ++p) {
      const double z = static_cast<double>(pair_scores[p]);
      confidence[static_cast<size_t>(i)] -= z;
      confidence[static_cast<size_t>(j)] += z;
      votes[static_cast<size_t>(z > 0 ? j : i)] += 1.0;
    }
  }
  for (int k = 0; k < n_classes; ++k) {
    const double c = confidence[static_cast<size_t>(k)];
    out[k] = static_cast<Scalar>(votes[static_cast<size_t>(k)] + c / (3.0 * (std::abs(c) + 1.0)));
  }
}

// Wu, Lin & Weng (2004), second method: p minimises sum_i sum_{j != i} (r_ji p_i - r_ij p_j)^2
// subject to sum p = 1, where r_ij estimates P(y = i | y in {i, j}). With Q the quadratic
// form's matrix, p is proportional to Q^{-1} e.
template <typename Scalar>
void couple_pairwise(const Scalar* pair_scores, int n_classes, Eigen::MatrixXd& Q, Scalar* out) {
  Q.setZero(n_classes, n_classes);
  int p = 0;
  for (int i = 0; i < n_classes; ++i) {
    for (int j = i + 1; j < n_classes; ++j, ++p) {
      const double r_ji = std::clamp(detail::sigmoid(static_cast<double>(pair_scores[p])),
                                     kMinPairProbability, 1.0 - kMinPairProbability);
      const double r_ij = 1.0 - r_ji;
      Q(i, i) += r_ji * r_ji;
      Q(j, j) += r_ij * r_ij;
      Q(i, j) -= r_ji * r_ij;
      Q(j, i) -= r_ji * r_ij;
    }
  }
  Eigen::VectorXd q = Q.ldlt().solve(Eigen::VectorXd::Ones(n_classes));
  q = q.cwiseMax(0.0);  // the exact solution is non-negative; drop rounding noise
  const double total = q.sum();
  for (int k = 0; k < n_classes; ++k) {
    out[k] = static_cast<Scalar>(total > 0 ? q[k] / total : 1.0 / n_classes);
  }
}

// Runs fn(first, count) over fixed blocks of `block` rows on n_threads threads.
template <typename Fn>
void for_row_blocks(Index n_rows, int n_threads, Fn&& fn, Index block = 2048) {
  const Index n_blocks = (n_rows + block - 1) / block;
  detail::ThreadPool pool(static_cast<int>(std::min<Index>(resolve_threads(n_threads), std::max<Index>(n_blocks, 1))));
  pool.run(n_blocks, [&](Index b) {
    const Index first = b * block;
    fn(first, std::min(block, n_rows - first));
  });
}

// Rows per block of dense X: about 256 KiB, so that a block checked for finiteness is still in
// cache when it is scored.
inline Index dense_block_rows(Index n_features, Index scalar_bytes) {
  return std::clamp<Index>((Index(1) << 18) / std::max<Index>(n_features * scalar_bytes, 1), 16, 2048);
}

constexpr const char* kScoresOverflow = "X has values so large that the model's scores overflow";

// Dense X is scored unchecked, and the results are checked instead: a NaN or infinity in a row of
// X makes every score of that row NaN or infinite (IEEE arithmetic never turns them finite, and
// a model's coefficients are finite), and so every probability NaN. Checking k results per row
// costs less than reading d inputs twice; only a block with a non-finite result is read again,
// to tell bad input from finite values so large that the scores overflow.
template <typename Scalar, typename Results>
void check_scored_block(const detail::KernelTable<Scalar>& kernels,
                        const detail::DenseBlock<Scalar>& X, const Results& results) {
  if (kernels.all_finite(detail::dense_block(results))) return;
  if (!kernels.all_finite(X)) throw std::invalid_argument(detail::kNonFiniteX);
  throw std::invalid_argument(kScoresOverflow);
}

template <typename Scalar, typename Matrix>
void check_features(const Model<Scalar>& model, const Matrix& X) {
  if (X.cols() != model.n_features()) {
    throw std::invalid_argument("X has " + std::to_string(X.cols()) +
                                " features, but the model expects " +
                                std::to_string(model.n_features()));
  }
}

// Linear scores X coef^T + intercept, n x n_units.
template <typename Scalar, typename Matrix>
RowMatrix<Scalar> linear_scores(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  check_features(model, X);
  RowMatrix<Scalar> Z(X.rows(), model.coef().rows());
  if constexpr (is_sparse_v<Matrix>) {
    detail::check_values(X);
    if constexpr (!Matrix::IsRowMajor) {
      // Compressed columns are read whole.
      Z.noalias() = X * model.coef().transpose();
      Z.rowwise() += model.intercept().transpose();
    } else {
      for_row_blocks(X.rows(), n_threads, [&](Index first, Index count) {
        Z.middleRows(first, count).noalias() = X.middleRows(first, count) * model.coef().transpose();
        Z.middleRows(first, count).rowwise() += model.intercept().transpose();
      });
    }
    if (!Z.allFinite()) throw std::invalid_argument(kScoresOverflow);
  } else {
    const auto& kernels = detail::kernels<Scalar>();
    for_row_blocks(X.rows(), n_threads, [&](Index first, Index count) {
      const auto block = detail::dense_block(X.middleRows(first, count));
      kernels.linear_scores(block, model.coef().data(), model.intercept().data(),
                            model.coef().rows(), Z.row(first).data());
      check_scored_block(kernels, block, Z.middleRows(first, count));
    }, dense_block_rows(X.cols(), sizeof(Scalar)));
  }
  return Z;
}

template <typename Scalar, typename Matrix>
RowMatrix<Scalar> decision(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  RowMatrix<Scalar> Z = linear_scores(model, X, n_threads);
  const int K = model.n_classes();
  if (model.strategy() != Strategy::OneVsOne || K == 2) return Z;
  RowMatrix<Scalar> votes(Z.rows(), K);
  for (Index i = 0; i < Z.rows(); ++i) one_vs_one_votes(Z.row(i).data(), K, votes.row(i).data());
  return votes;
}

template <typename Scalar, typename Matrix>
RowMatrix<Scalar> probabilities(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  const int K = model.n_classes();
  const auto& kernels = detail::kernels<Scalar>();
  if constexpr (!is_sparse_v<Matrix>) {
    if (model.strategy() == Strategy::Softmax && K > 2) {
      // One pass: each block scored and normalised while in cache.
      check_features(model, X);
      RowMatrix<Scalar> P(X.rows(), K);
      for_row_blocks(X.rows(), n_threads, [&](Index first, Index count) {
        const auto block = detail::dense_block(X.middleRows(first, count));
        kernels.softmax_scores(block, model.coef().data(), model.intercept().data(), K,
                               P.row(first).data());
        check_scored_block(kernels, block, P.middleRows(first, count));
      }, dense_block_rows(X.cols(), sizeof(Scalar)));
      return P;
    }
  }
  RowMatrix<Scalar> Z = linear_scores(model, X, n_threads);
  if (K == 2) {
    RowMatrix<Scalar> P(Z.rows(), 2);
    for_row_blocks(Z.rows(), n_threads, [&](Index first, Index count) {
      kernels.sigmoid(Z.row(first).data(), count);
      P.col(1).segment(first, count) = Z.col(0).segment(first, count);
      P.col(0).segment(first, count).array() = Scalar(1) - Z.col(0).segment(first, count).array();
    });
    return P;
  }
  switch (model.strategy()) {
    case Strategy::Softmax:
      for_row_blocks(Z.rows(), n_threads, [&](Index first, Index count) {
        kernels.softmax(Z.row(first).data(), count, K);
      });
      return Z;
    case Strategy::OneVsAll:
      // Each class's sigmoid, normalised over the classes (as scikit-learn's one-vs-rest).
      for_row_blocks(Z.rows(), n_threads, [&](Index first, Index count) {
        auto block = Z.middleRows(first, count);
        kernels.sigmoid(block.data(), count * K);
        block.array().colwise() /= block.array().rowwise().sum().eval();
      });
      return Z;
    case Strategy::OneVsOne: {
      RowMatrix<Scalar> P(Z.rows(), K);
      for_row_blocks(Z.rows(), n_threads, [&](Index first, Index count) {
        Eigen::MatrixXd Q;
        for (Index i = first; i < first + count; ++i) {
          couple_pairwise(Z.row(i).data(), K, Q, P.row(i).data());
        }
      });
      return P;
    }
  }
  return Z;
}

template <typename Scalar, typename Matrix>
Eigen::VectorXi predicted_classes(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  const RowMatrix<Scalar> D = decision(model, X, n_threads);
  Eigen::VectorXi classes(D.rows());
  for (Index i = 0; i < D.rows(); ++i) {
    if (model.n_classes() == 2) {
      classes[i] = D(i, 0) > 0 ? 1 : 0;
    } else {
      Index best;
      D.row(i).maxCoeff(&best);
      classes[i] = static_cast<int>(best);
    }
  }
  return classes;
}

}  // namespace

template <typename Scalar>
Model<Scalar>::Model(Strategy strategy, int n_classes, RowMatrix<Scalar> coef,
                     Vector<Scalar> intercept, std::vector<ProblemReport> reports)
    : strategy_(strategy),
      n_classes_(n_classes),
      coef_(std::move(coef)),
      intercept_(std::move(intercept)),
      reports_(std::move(reports)) {
  if (n_classes_ < 2) {
    throw std::invalid_argument("a model needs at least 2 classes, got " + std::to_string(n_classes_));
  }
  const int units = n_units(strategy_, n_classes_);
  if (coef_.rows() != units) {
    throw std::invalid_argument("coef has " + std::to_string(coef_.rows()) + " rows; strategy '" +
                                std::string(to_string(strategy_)) + "' with " +
                                std::to_string(n_classes_) + " classes needs " +
                                std::to_string(units));
  }
  if (intercept_.size() != units) {
    throw std::invalid_argument("intercept has " + std::to_string(intercept_.size()) +
                                " entries, expected " + std::to_string(units));
  }
  if (!coef_.allFinite() || !intercept_.allFinite()) {
    throw std::invalid_argument("model coefficients contain NaN or infinity");
  }
}

template <typename Scalar>
template <typename Matrix>
RowMatrix<Scalar> Model<Scalar>::decision_of(const Matrix& X, int n_threads) const {
  return decision(*this, X, n_threads);
}

template <typename Scalar>
template <typename Matrix>
RowMatrix<Scalar> Model<Scalar>::probabilities_of(const Matrix& X, int n_threads) const {
  return probabilities(*this, X, n_threads);
}

template <typename Scalar>
template <typename Matrix>
Eigen::VectorXi Model<Scalar>::classes_of(const Matrix& X, int n_threads) const {
  return predicted_classes(*this, X, n_threads);
}

// Every view a model can score, for both scalar types.
template <typename Scalar>
using DenseRows = MatrixView<Scalar, Eigen::RowMajor>;
template <typename Scalar>
using DenseColumns = MatrixView<Scalar, Eigen::ColMajor>;
template <typename Scalar>
using Csr32 = SparseView<Scalar, Eigen::RowMajor, int>;
template <typename Scalar>
using Csc32 = SparseView<Scalar, Eigen::ColMajor, int>;
template <typename Scalar>
using Csr64 = SparseView<Scalar, Eigen::RowMajor, std::int64_t>;
template <typename Scalar>
using Csc64 = SparseView<Scalar, Eigen::ColMajor, std::int64_t>;

#define MULTILOGIT_INSTANTIATE(Scalar, View)                                                   \
  template RowMatrix<Scalar> Model<Scalar>::decision_of(const View<Scalar>&, int) const;      \
  template RowMatrix<Scalar> Model<Scalar>::probabilities_of(const View<Scalar>&, int) const; \
  template Eigen::VectorXi Model<Scalar>::classes_of(const View<Scalar>&, int) const;
#define MULTILOGIT_INSTANTIATE_ALL_VIEWS(Scalar)  \
  MULTILOGIT_INSTANTIATE(Scalar, DenseRows)       \
  MULTILOGIT_INSTANTIATE(Scalar, DenseColumns)    \
  MULTILOGIT_INSTANTIATE(Scalar, Csr32)           \
  MULTILOGIT_INSTANTIATE(Scalar, Csc32)           \
  MULTILOGIT_INSTANTIATE(Scalar, Csr64)           \
  MULTILOGIT_INSTANTIATE(Scalar, Csc64)
MULTILOGIT_INSTANTIATE_ALL_VIEWS(float)
MULTILOGIT_INSTANTIATE_ALL_VIEWS(double)
#undef MULTILOGIT_INSTANTIATE_ALL_VIEWS
#undef MULTILOGIT_INSTANTIATE

template class Model<float>;
template class Model<double>;

}  // namespace multilogit
