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
// pair (i, j) votes for j when its score is positive. Keeps its scratch from row to row.
class OneVsOneVotes {
 public:
  explicit OneVsOneVotes(int n_classes) : votes_(n_classes), confidence_(n_classes) {}

  template <typename Scalar>
  void operator()(const Scalar* pair_scores, Scalar* out) {
    const int n_classes = static_cast<int>(votes_.size());
    votes_.setZero();
    confidence_.setZero();
    int p = 0;
    for (int i = 0; i < n_classes; ++i) {
      for (int j = i + 1; j < n_classes; ++j, ++p) {
        const double z = static_cast<double>(pair_scores[p]);
        confidence_[i] -= z;
        confidence_[j] += z;
        votes_[z > 0 ? j : i] += 1.0;
      }
    }
    for (int k = 0; k < n_classes; ++k) {
      const double c = confidence_[k];
      out[k] = static_cast<Scalar>(votes_[k] + c / (3.0 * (std::abs(c) + 1.0)));
    }
  }

 private:
  Eigen::VectorXd votes_, confidence_;
};

// Wu, Lin & Weng (2004), second method: p minimises sum_i sum_{j != i} (r_ji p_i - r_ij p_j)^2
// subject to sum p = 1, where r_ij estimates P(y = i | y in {i, j}). With Q the quadratic
// form's matrix, p is proportional to Q^{-1} e. Keeps Q and its factorisation from row to row.
class PairwiseCoupling {
 public:
  explicit PairwiseCoupling(int n_classes)
      : Q_(n_classes, n_classes), ldlt_(n_classes), ones_(Eigen::VectorXd::Ones(n_classes)) {}

  template <typename Scalar>
  void operator()(const Scalar* pair_scores, Scalar* out) {
    const int n_classes = static_cast<int>(Q_.rows());
    Q_.setZero();
    int p = 0;
    for (int i = 0; i < n_classes; ++i) {
      for (int j = i + 1; j < n_classes; ++j, ++p) {
        const double r_ji = std::clamp(detail::sigmoid(static_cast<double>(pair_scores[p])),
                                       kMinPairProbability, 1.0 - kMinPairProbability);
        const double r_ij = 1.0 - r_ji;
        Q_(i, i) += r_ji * r_ji;
        Q_(j, j) += r_ij * r_ij;
        Q_(i, j) -= r_ji * r_ij;
        Q_(j, i) -= r_ji * r_ij;
      }
    }
    q_ = ldlt_.compute(Q_).solve(ones_);
    q_ = q_.cwiseMax(0.0);  // the exact solution is non-negative; drop rounding noise
    const double total = q_.sum();
    for (int k = 0; k < n_classes; ++k) {
      out[k] = static_cast<Scalar>(total > 0 ? q_[k] / total : 1.0 / n_classes);
    }
  }

 private:
  Eigen::MatrixXd Q_;
  Eigen::LDLT<Eigen::MatrixXd> ldlt_;
  Eigen::VectorXd ones_, q_;
};

// Multiply-adds of work that repay one more thread: starting and joining a thread took 40-80 us
// on a virtualised 2-core machine, about the time of 1M multiply-adds on one core. Scoring
// 2000 rows of 100 features for 10 classes took 0.19 ms on one thread and 0.17 ms on two.
constexpr double kWorkPerThread = 1 << 20;
// Multiply-adds counted for one exponential (sigmoid, softmax), roughly its arithmetic.
constexpr double kExpWork = 16;
// Multiply-adds counted per K^3 for coupling a row's K (K - 1) / 2 pairs (a K x K system):
// 1.6 us per row for 10 classes, the time of about 25 000 multiply-adds in the scoring kernels.
constexpr double kCouplingWork = 25;

// Runs fn(first, count) over fixed blocks of `block` rows, on up to n_threads threads: no more
// than the rows' work (row_work multiply-adds each) repays. Each block's result depends only on
// its rows, so the thread count never changes it.
template <typename Fn>
void for_row_blocks(Index n_rows, double row_work, int n_threads, Fn&& fn, Index block = 2048) {
  const Index n_blocks = (n_rows + block - 1) / block;
  const auto repaid = static_cast<Index>(row_work * static_cast<double>(n_rows) / kWorkPerThread);
  const Index threads =
      std::clamp<Index>(std::min<Index>(repaid, n_blocks), 1, resolve_threads(n_threads));
  detail::ThreadPool pool(static_cast<int>(threads));
  pool.run(n_blocks, [&](Index b) {
    const Index first = b * block;
    fn(first, std::min(block, n_rows - first));
  });
}

// Rows per block of dense X: about 256 KiB, so that a block checked for finiteness is still in
// cache when it is scored.
inline Index dense_block_rows(Index n_features, Index scalar_bytes) {
  const Index row_bytes = std::max<Index>(n_features * scalar_bytes, 1);
  return std::clamp<Index>((Index(1) << 18) / row_bytes, 16, 2048);
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

// Linear scores Z = X coef^T + intercept (n x n_units), block by block of rows. Each block's
// scores, once checked, go to finish(first, scores) while in cache; it may transform them in
// place, at about finish_work multiply-adds per row.
template <typename Scalar, typename Matrix, typename Finish>
RowMatrix<Scalar> linear_scores(const Model<Scalar>& model, const Matrix& X, int n_threads,
                                double finish_work, Finish&& finish) {
  check_features(model, X);
  const Index units = model.coef().rows();
  RowMatrix<Scalar> Z(X.rows(), units);
  if constexpr (is_sparse_v<Matrix>) {
    detail::check_values(X);
    const auto check = [](const auto& scores) {
      if (!scores.allFinite()) throw std::invalid_argument(kScoresOverflow);
    };
    if constexpr (!Matrix::IsRowMajor) {
      // Compressed columns are read whole.
      Z.noalias() = X * model.coef().transpose();
      Z.rowwise() += model.intercept().transpose();
      check(Z);
      for_row_blocks(Z.rows(), finish_work, n_threads, [&](Index first, Index count) {
        finish(first, Z.middleRows(first, count));
      });
    } else {
      const double row_work = static_cast<double>(X.nonZeros()) /
                                  static_cast<double>(std::max<Index>(X.rows(), 1)) * units +
                              finish_work;
      for_row_blocks(X.rows(), row_work, n_threads, [&](Index first, Index count) {
        auto scores = Z.middleRows(first, count);
        scores.noalias() = X.middleRows(first, count) * model.coef().transpose();
        scores.rowwise() += model.intercept().transpose();
        check(scores);
        finish(first, scores);
      });
    }
  } else {
    const auto& kernels = detail::kernels<Scalar>();
    const double row_work = static_cast<double>(X.cols() * units) + finish_work;
    for_row_blocks(X.rows(), row_work, n_threads, [&](Index first, Index count) {
      const auto block = detail::dense_block(X.middleRows(first, count));
      kernels.linear_scores(block, model.coef().data(), model.intercept().data(), units,
                            Z.row(first).data());
      check_scored_block(kernels, block, Z.middleRows(first, count));
      finish(first, Z.middleRows(first, count));
    }, dense_block_rows(X.cols(), sizeof(Scalar)));
  }
  return Z;
}

template <typename Scalar, typename Matrix>
RowMatrix<Scalar> linear_scores(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  return linear_scores(model, X, n_threads, 0.0, [](Index, const auto&) {});
}

template <typename Scalar, typename Matrix>
RowMatrix<Scalar> decision(const Model<Scalar>& model, const Matrix& X, int n_threads) {
  const int K = model.n_classes();
  if (model.strategy() != Strategy::OneVsOne || K == 2) return linear_scores(model, X, n_threads);
  RowMatrix<Scalar> votes(X.rows(), K);
  linear_scores(model, X, n_threads, K * K, [&](Index first, const auto& scores) {
    OneVsOneVotes vote(K);
    for (Index i = 0; i < scores.rows(); ++i) {
      vote(scores.row(i).data(), votes.row(first + i).data());
    }
  });
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
      const double row_work = static_cast<double>(X.cols()) * K + K * kExpWork;
      for_row_blocks(X.rows(), row_work, n_threads, [&](Index first, Index count) {
        const auto block = detail::dense_block(X.middleRows(first, count));
        kernels.softmax_scores(block, model.coef().data(), model.intercept().data(), K,
                               P.row(first).data());
        check_scored_block(kernels, block, P.middleRows(first, count));
      }, dense_block_rows(X.cols(), sizeof(Scalar)));
      return P;
    }
  }
  // Otherwise each block's scores become probabilities while in cache.
  if (K == 2) {
    RowMatrix<Scalar> P(X.rows(), 2);
    linear_scores(model, X, n_threads, kExpWork, [&](Index first, auto scores) {
      kernels.sigmoid(scores.data(), scores.rows());
      P.col(1).segment(first, scores.rows()) = scores.col(0);
      P.col(0).segment(first, scores.rows()).array() = Scalar(1) - scores.col(0).array();
    });
    return P;
  }
  switch (model.strategy()) {
    case Strategy::Softmax:  // sparse X
      return linear_scores(model, X, n_threads, K * kExpWork, [&](Index, auto scores) {
        kernels.softmax(scores.data(), scores.rows(), K);
      });
    case Strategy::OneVsAll:
      // Each class's sigmoid, normalised over the classes (as scikit-learn's one-vs-rest).
      return linear_scores(model, X, n_threads, K * kExpWork, [&](Index, auto scores) {
        kernels.sigmoid(scores.data(), scores.size());
        scores.array().colwise() /= scores.array().rowwise().sum().eval();
      });
    case Strategy::OneVsOne: {
      RowMatrix<Scalar> P(X.rows(), K);
      linear_scores(model, X, n_threads, kCouplingWork * K * K * K,
                    [&](Index first, const auto& scores) {
        PairwiseCoupling couple(K);
        for (Index i = 0; i < scores.rows(); ++i) {
          couple(scores.row(i).data(), P.row(first + i).data());
        }
      });
      return P;
    }
  }
  throw std::invalid_argument("unknown strategy");
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
