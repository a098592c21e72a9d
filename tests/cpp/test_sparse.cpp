// Sparse input (CSR and CSC, 32- and 64-bit indices) against the same data stored densely.
#include <cstdint>
#include <stdexcept>

#include <gtest/gtest.h>

#include <Eigen/SparseCore>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;

// Blobs with most entries zeroed, so the sparse matrices are genuinely sparse.
Eigen::MatrixXd sparsified(const Eigen::MatrixXd& X) {
  Eigen::MatrixXd S = X;
  for (Index i = 0; i < S.rows(); ++i) {
    for (Index j = 0; j < S.cols(); ++j) {
      if ((i * 7 + j * 3) % 4 != 0) S(i, j) = 0;
    }
  }
  return S;
}

template <int Order, typename StorageIndex>
void check_matches_dense(const Eigen::MatrixXd& dense, const Eigen::VectorXi& y, int n_classes) {
  const Eigen::SparseMatrix<double, Order, StorageIndex> owned = dense.sparseView();
  const SparseView<double, Order, StorageIndex> X(owned.rows(), owned.cols(), owned.nonZeros(),
                                                  owned.outerIndexPtr(), owned.innerIndexPtr(),
                                                  owned.valuePtr());
  TrainOptions options;
  options.tol = 1e-12;  // dense softmax takes Newton-CG, sparse L-BFGS: they meet at the optimum
  options.max_iter = 2000;
  const Eigen::VectorXd weights = Eigen::VectorXd::LinSpaced(dense.rows(), 0.5, 2.0);
  for (Strategy strategy : {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne}) {
    const auto trainer = make_trainer<double>(strategy, options);
    const auto from_dense = trainer->fit(dense, y, n_classes, weights);
    const auto from_sparse = trainer->fit(X, y, n_classes, weights);
    EXPECT_LT((from_sparse.coef() - from_dense.coef()).norm(), 1e-7 * from_dense.coef().norm())
        << to_string(strategy) << (Order == Eigen::RowMajor ? " CSR" : " CSC");
    EXPECT_LT((from_sparse.predict_proba(X) - from_dense.predict_proba(dense)).cwiseAbs().maxCoeff(),
              1e-7);
    EXPECT_TRUE((from_sparse.predict(X).array() == from_dense.predict(dense).array()).all());
  }
}

TEST(Sparse, EveryStorageMatchesDense) {
  const auto data = make_blobs(4, 1500, 12, 2.0);  // several row chunks
  const Eigen::MatrixXd X = sparsified(data.X);
  check_matches_dense<Eigen::RowMajor, int>(X, data.y, 4);
  check_matches_dense<Eigen::ColMajor, int>(X, data.y, 4);
  check_matches_dense<Eigen::RowMajor, std::int64_t>(X, data.y, 4);
  check_matches_dense<Eigen::ColMajor, std::int64_t>(X, data.y, 4);
}

TEST(Sparse, RejectsCorruptIndexArrays) {
  const double values[3] = {1.0, 2.0, 3.0};
  const int indptr[3] = {0, 2, 3};
  const int good_indices[3] = {0, 1, 1};
  const int bad_indices[3] = {0, 5, 1};  // column 5 of 2
  const Eigen::VectorXi y = (Eigen::VectorXi(2) << 0, 1).finished();
  SoftmaxRegression<double> trainer;
  const SparseView<double, Eigen::RowMajor, int> good(2, 2, 3, indptr, good_indices, values);
  EXPECT_NO_THROW(trainer.fit(good, y, 2));
  const SparseView<double, Eigen::RowMajor, int> bad(2, 2, 3, indptr, bad_indices, values);
  EXPECT_THROW(trainer.fit(bad, y, 2), std::invalid_argument);
  const int bad_indptr[3] = {0, 3, 2};
  const SparseView<double, Eigen::RowMajor, int> unordered(2, 2, 3, bad_indptr, good_indices, values);
  EXPECT_THROW(trainer.fit(unordered, y, 2), std::invalid_argument);
  const double with_nan[3] = {1.0, std::numeric_limits<double>::quiet_NaN(), 3.0};
  const SparseView<double, Eigen::RowMajor, int> nan(2, 2, 3, indptr, good_indices, with_nan);
  EXPECT_THROW(trainer.fit(nan, y, 2), std::invalid_argument);
}

}  // namespace
