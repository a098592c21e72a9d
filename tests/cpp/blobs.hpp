// Reproducible Gaussian blobs for the unit tests.
#pragma once

#include <random>

#include <Eigen/Core>

#include <multilogit/types.hpp>

namespace multilogit::test_data {

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
