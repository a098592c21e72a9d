"""Sparse input: CSR and CSC (matrices and arrays), float32/float64, int32/int64 indices.

Read in place (never densified, data and index arrays not copied); results equal those on the
same data stored densely, and scikit-learn's optimum on the same sparse data. Unsorted indices
and duplicate entries are read as they are, which means what SciPy means by them (duplicates
add up), so no canonicalising copy is made.
"""

import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file, make_classification
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from multilogit import LogisticRegression

STRATEGIES = ["softmax", "ovr", "ovo"]
TIGHT = dict(tol=1e-10, max_iter=10_000)
# That tol is at the objective's rounding level: a problem may stop once no step decreases the
# objective any more, at its optimum to rounding, and warn so. Every other warning still shows.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*stopped early because no step decreased the objective:sklearn.exceptions.ConvergenceWarning"
)
SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(1500, 40, n_informative=12, n_classes=4, random_state=0)
    X[np.abs(X) < 1.0] = 0.0  # about two thirds zeros
    return X, y


def _sparse(X, fmt, container, dtype, index_dtype):
    matrix = (sp.csr_matrix if fmt == "csr" else sp.csc_matrix)(X.astype(dtype))
    matrix.indices = matrix.indices.astype(index_dtype)
    matrix.indptr = matrix.indptr.astype(index_dtype)
    return matrix if container == "matrix" else (sp.csr_array if fmt == "csr" else sp.csc_array)(matrix)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("container", ["matrix", "array"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_sparse_equals_dense(data, strategy, fmt, container, index_dtype):
    X, y = data
    Xs = _sparse(X, fmt, container, np.float64, index_dtype)
    assert Xs.indices.dtype == index_dtype
    sparse = LogisticRegression(strategy, **TIGHT).fit(Xs, y)
    dense = LogisticRegression(strategy, **TIGHT).fit(X, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-7)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-7)
    np.testing.assert_allclose(sparse.decision_function(Xs), dense.decision_function(X), atol=1e-6)
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_float32_sparse(data, fmt):
    X, y = data
    Xs = _sparse(X, fmt, "matrix", np.float32, np.int32)
    # One solver for both: solver="auto" chooses by storage, and at the default tol two solvers
    # stop at points that differ by more than float32 does.
    model = LogisticRegression("ovr", solver="lbfgs").fit(Xs, y)
    assert model.coef_.dtype == np.float32
    reference = LogisticRegression("ovr", solver="lbfgs").fit(X, y)
    assert np.linalg.norm(model.coef_ - reference.coef_) / np.linalg.norm(reference.coef_) < 1e-3


@pytest.mark.parametrize("strategy", ["softmax", "ovr"])
def test_sparse_reaches_sklearn_optimum(data, strategy):
    X, y = data
    Xs = sp.csr_matrix(X)
    model = LogisticRegression(strategy, C=0.5, **TIGHT).fit(Xs, y)
    reference = SkLogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)
    if strategy == "ovr":
        reference = OneVsRestClassifier(reference).fit(Xs, y)
        coef = np.vstack([e.coef_ for e in reference.estimators_])
    else:
        coef = reference.fit(Xs, y).coef_
    assert np.linalg.norm(model.coef_ - coef) / np.linalg.norm(coef) < 1e-4


def test_unsorted_and_duplicate_indices_mean_what_scipy_means(data):
    X, y = data
    canonical = sp.csr_matrix(X)
    # Reverse each row's entries and split every value into two duplicates.
    data_, indices, indptr = [], [], [0]
    for i in range(canonical.shape[0]):
        start, end = canonical.indptr[i], canonical.indptr[i + 1]
        for value, column in zip(canonical.data[start:end][::-1], canonical.indices[start:end][::-1]):
            data_ += [0.25 * value, 0.75 * value]
            indices += [column, column]
        indptr.append(len(data_))
    messy = sp.csr_matrix((np.array(data_), np.array(indices), np.array(indptr)), shape=X.shape)
    assert not messy.has_canonical_format
    for strategy in STRATEGIES:
        a = LogisticRegression(strategy, **TIGHT).fit(messy, y)
        b = LogisticRegression(strategy, **TIGHT).fit(canonical, y)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
        np.testing.assert_allclose(a.predict_proba(messy), b.predict_proba(canonical), atol=1e-8)


def test_nan_in_sparse_data_is_rejected(data):
    X, y = data
    Xs = sp.csr_matrix(X)
    Xs.data[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(Xs, y)


def test_other_sparse_formats_are_converted(data):
    X, y = data
    model = LogisticRegression("ovo", **TIGHT).fit(sp.coo_matrix(X), y)
    reference = LogisticRegression("ovo", **TIGHT).fit(X, y)
    np.testing.assert_allclose(model.coef_, reference.coef_, atol=1e-7)


def test_fit_reads_a_huge_sparse_matrix_in_place():
    # 1,000,000 x 200,000: dense it would take 1.6 TB; its CSR arrays take ~360 MB.
    script = textwrap.dedent(
        """
        import resource, sys, warnings
        import numpy as np, scipy.sparse as sp
        from multilogit import LogisticRegression

        def reset_peak():
            # The rusage peak survives exec (this process would report pytest's): Linux resets
            # the peak it reports in /proc to the current size on request.
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")

        def peak_mb():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024  # kB

        n, d, per_row = 1_000_000, 200_000, 30
        rng = np.random.default_rng(0)
        indices = rng.integers(0, d, size=n * per_row, dtype=np.int32)
        values = rng.standard_normal(n * per_row)
        indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
        X = sp.csr_matrix((values, indices, indptr), shape=(n, d))
        y = (values.reshape(n, per_row)[:, 0] > 0).astype(np.int32)
        del values, indices, indptr
        LogisticRegression(max_iter=1).fit(X[:1000], y[:1000])  # warm up code paths
        arrays_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
        reset_peak()
        before = peak_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(max_iter=3, n_threads=2).fit(X, y)
            model.predict(X)
        print(arrays_mb, peak_mb() - before)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    arrays_mb, growth_mb = map(float, out.stdout.split())
    assert arrays_mb > 300
    # What does grow is O(n): encoded labels, weights, scores, predictions and their label
    # mapping (4 to 8 MB each per million rows). A copy of the data or index array alone would
    # add at least 110 MB (30% of the arrays).
    assert growth_mb < 0.20 * arrays_mb, f"peak memory grew by {growth_mb:.0f} MB"


@pytest.mark.skipif(not (SHARED / "news20" / "news20.bz2").exists(), reason="news20 not present")
def test_news20_matches_sklearn():
    X, y = load_svmlight_file(str(SHARED / "news20" / "news20.bz2"), n_features=62061)
    X, y = X[::16], y[::16]  # 1,000 documents, all 20 classes
    X = X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1))).tocsr()  # unit-length rows
    model = LogisticRegression(C=1.0, tol=1e-8, max_iter=5000).fit(X, y)
    reference = SkLogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X, y)
    assert np.linalg.norm(model.coef_ - reference.coef_) / np.linalg.norm(reference.coef_) < 1e-3
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))


@pytest.mark.skipif(not (SHARED / "sector" / "sector.scale.bz2").exists(), reason="sector not present")
def test_sector_ovr_matches_sklearn():
    X, y = load_svmlight_file(str(SHARED / "sector" / "sector.scale.bz2"))
    X, y = X[::4], y[::4]
    keep = np.isin(y, np.unique(y)[:10])  # ten of the 105 classes keep the reference fast
    X, y = X[keep], y[keep]
    model = LogisticRegression("ovr", C=10.0, tol=1e-8, max_iter=5000).fit(X, y)
    reference = OneVsRestClassifier(SkLogisticRegression(C=10.0, tol=1e-10, max_iter=10_000))
    reference.fit(X, y)
    coef = np.vstack([e.coef_ for e in reference.estimators_])
    assert np.linalg.norm(model.coef_ - coef) / np.linalg.norm(coef) < 1e-3
