// Reproducible Gaussian blobs for the unit tests, and the views of X they train on.
#pragma once

#include <random>

#include <Eigen/Core>

#include <multilogit/options.hpp>
#include <multilogit/types.hpp>

namespace multilogit::test_data {

using ColMajorView = MatrixView<double, Eigen::ColMajor>;
using RowMajorView = MatrixView<double, Eigen::RowMajor>;
using CsrView = SparseView<double, Eigen::RowMajor, int>;
using CscView = SparseView<double, Eigen::ColMajor, int>;

// Options for fits that must get close to the optimum: tight tolerance, room to iterate.
inline TrainOptions tight(Solver solver, int n_threads = 1, double tol = 1e-10) {
  TrainOptions options;
  options.tol = tol;
  options.max_iter = 1000;
  options.solver = solver;
  options.n_threads = n_threads;
  return options;
}

struct Blobs {
  Eigen::MatrixXd X;  // n x d, column-major
  Eigen::VectorXi y;
};

// n_per_class points around a random centre per class; `spread` is the noise scale.
inline Blobs make_blobs(int n_classes, int n_per_class, int n_features, double spread,
                        unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd centres(n_classes, n_features);
  for (Index k = 0; k < centres.size(); ++k) centres.data()[k] = 3.0 * normal(rng);
  Blobs blobs{Eigen::MatrixXd(n_classes * n_per_class, n_features),
              Eigen::VectorXi(n_classes * n_per_class)};
  for (int i = 0; i < n_classes * n_per_class; ++i) {
    const int k = i % n_classes;
    blobs.y[i] = k;
    for (int j = 0; j < n_features; ++j) blobs.X(i, j) = centres(k, j) + spread * normal(rng);
  }
  return blobs;
}

}  // namespace multilogit::test_data
