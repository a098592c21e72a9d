"""Agreement with scikit-learn's lbfgs logistic regression, both run to a tight tolerance.

Both libraries minimise the same objectives (see the design guide), so the optima coincide:
- softmax against ``sklearn.linear_model.LogisticRegression`` (multinomial for K >= 3);
- ovr against ``OneVsRestClassifier(LogisticRegression(...))``;
- ovo against ``OneVsOneClassifier(LogisticRegression(...))``;
- two classes, every strategy, against the binary ``LogisticRegression``.

The objective used to rank the two solutions is computed by an oracle written here with SciPy,
independent of ``multilogit.objective_value``.

Tolerances. float64: coefficients and intercepts within 1e-4 relative (Frobenius norm of the
difference over the norm of scikit-learn's; intercepts, which can be near zero, over the norm of
the whole solution), raw scores ``X coef.T + intercept`` within 1e-4 of the largest score,
probabilities within 1e-5 (max abs), and multilogit's objective never above scikit-learn's by
more than 1e-8 relative, sub-problem by sub-problem. The ovo ``decision_function`` (votes plus
squashed summed confidences) is compared within 1e-5 times the largest pairwise score: the
confidences sum K-1 raw scores of size up to ~50 here, so an absolute 1e-5 would ask for more
digits than scikit-learn's own solution at tol=1e-10 has (on standardised digits with C=100 the
two differ by ~3e-4 while multilogit's objective is the lower one). A sample lying on a pairwise
boundary (that pair's score within the score error of zero) may get the other vote; such samples
are excluded from the decision comparison and must be rare.

float32: multilogit trains in single precision, where the gradient cannot be resolved below
float32 rounding, while scikit-learn's lbfgs always works in float64; on ill-conditioned problems
(digits with C=100) the single-precision optimum is then ~5e-3 away in coefficients and ~2e-5 in
relative objective, and raw scores of samples with large standardised values in rarely used
pixels differ by up to ~4% of the largest score. The FLOAT32 tolerances below leave a margin of
a few times what is observed.
"""

import functools

import numpy as np
import pytest
from scipy.special import log_expit, logsumexp
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from multilogit import LogisticRegression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TOL = 1e-10
MAX_ITER = 10000
C_VALUES = [0.01, 1.0, 100.0]

FLOAT64 = dict(coef=1e-4, score=1e-4, proba=1e-5, ovo_decision=1e-5, objective=1e-8)
FLOAT32 = dict(coef=2e-2, score=1e-1, proba=5e-3, ovo_decision=1e-3, objective=1e-4)


# ---------------------------------------------------------------------------------------------
# Data


def _standardised(X, y):
    return StandardScaler().fit_transform(X), y


@functools.lru_cache(maxsize=None)
def dataset(name):
    """Standardised float64 data sets (small, so the whole file stays fast)."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return _standardised(X[::2], y[::2])  # half of it: 899 images, all ten digits
    if name == "wine":
        return _standardised(*load_wine(return_X_y=True))
    if name == "synthetic12":
        X, y = make_classification(
            n_samples=480,
            n_features=16,
            n_informative=10,
            n_redundant=2,
            n_classes=12,
            n_clusters_per_class=1,
            class_sep=1.5,
            random_state=0,
        )
        return _standardised(X, y)
    if name == "breast_cancer":
        return _standardised(*load_breast_cancer(return_X_y=True))
    if name == "synthetic2":
        X, y = make_classification(
            n_samples=300, n_features=10, n_informative=5, random_state=1
        )
        return _standardised(X, y)
    raise KeyError(name)


MULTICLASS_DATASETS = ["digits", "wine", "synthetic12"]
BINARY_DATASETS = ["breast_cancer", "synthetic2"]


# ---------------------------------------------------------------------------------------------
# Independent objective oracle (SciPy based; do not use multilogit.objective_value here)


def oracle_binary(X, positive, w, b, C):
    """(1/n) sum -log sigmoid(t z) + ||w||^2 / (2 C n)."""
    t = np.where(positive, 1.0, -1.0)
    z = X @ w + b
    return (-log_expit(t * z).sum() + 0.5 * np.dot(w, w) / C) / X.shape[0]


def oracle_objectives(X, y_index, coef, intercept, strategy, n_classes, C):
    """Objective of each sub-problem, in the order of the rows of ``coef``."""
    X = np.asarray(X, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    K = n_classes
    if K == 2:
        return [oracle_binary(X, y_index == 1, coef[0], intercept[0], C)]
    if strategy == "softmax":
        Z = X @ coef.T + intercept
        loss = logsumexp(Z, axis=1) - np.take_along_axis(Z, y_index[:, None], axis=1)[:, 0]
        return [(loss.sum() + 0.5 * np.sum(coef**2) / C) / X.shape[0]]
    if strategy == "ovr":
        return [oracle_binary(X, y_index == k, coef[k], intercept[k], C) for k in range(K)]
    values = []
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    for unit, (i, j) in enumerate(pairs):
        rows = np.isin(y_index, (i, j))
        values.append(oracle_binary(X[rows], y_index[rows] == j, coef[unit], intercept[unit], C))
    return values


# ---------------------------------------------------------------------------------------------
# Reference fits, cached: scikit-learn's lbfgs always works in float64, so one fit per
# (data set, C, strategy) serves both dtypes.


def _sk_lr(C):
    return SkLogisticRegression(C=C, solver="lbfgs", tol=TOL, max_iter=MAX_ITER)


@functools.lru_cache(maxsize=None)
def reference(name, C, strategy):
    X, y = dataset(name)
    n_classes = np.unique(y).shape[0]
    if n_classes == 2 or strategy == "softmax":
        model = _sk_lr(C).fit(X, y)
        coef, intercept = model.coef_, model.intercept_
    elif strategy == "ovr":
        model = OneVsRestClassifier(_sk_lr(C)).fit(X, y)
        coef = np.vstack([est.coef_ for est in model.estimators_])
        intercept = np.concatenate([est.intercept_ for est in model.estimators_])
    else:
        model = OneVsOneClassifier(_sk_lr(C)).fit(X, y)
        coef = np.vstack([est.coef_ for est in model.estimators_])
        intercept = np.concatenate([est.intercept_ for est in model.estimators_])
    return model, coef, intercept


def fit_multilogit(name, C, strategy, dtype):
    X, y = dataset(name)
    model = LogisticRegression(strategy, C=C, tol=TOL, max_iter=MAX_ITER)
    return model.fit(X.astype(dtype), y), X.astype(dtype)


def relative_error(actual, expected, floor=0.0):
    return np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), floor)


def tolerances(dtype):
    return FLOAT64 if dtype == np.float64 else FLOAT32


def scores(X, coef, intercept):
    return np.asarray(X, dtype=np.float64) @ np.asarray(coef, dtype=np.float64).T + intercept


def assert_same_solution(name, C, strategy, dtype, model, coef_ref, intercept_ref):
    """Coefficients, intercepts and objectives of ``model`` against the reference."""
    X, y = dataset(name)
    tol = tolerances(dtype)
    assert model.coef_.dtype == dtype
    assert model.coef_.shape == coef_ref.shape
    assert model.intercept_.shape == intercept_ref.shape

    coef_err = relative_error(model.coef_, coef_ref)
    assert coef_err <= tol["coef"], f"coef_ relative error {coef_err:.3g}"
    # Intercepts may be near zero: measure them against the size of the whole solution.
    scale = np.linalg.norm(np.column_stack([coef_ref, intercept_ref]))
    intercept_err = relative_error(model.intercept_, intercept_ref, floor=1e-2 * scale)
    assert intercept_err <= tol["coef"], f"intercept_ relative error {intercept_err:.3g}"

    z_ref = scores(X, coef_ref, intercept_ref)
    z_err = np.max(np.abs(scores(X, model.coef_, model.intercept_) - z_ref))
    assert z_err <= tol["score"] * np.max(np.abs(z_ref)), f"raw scores differ by {z_err:.3g}"

    y_index = np.searchsorted(model.classes_, y)
    K = len(model.classes_)
    ours = oracle_objectives(X, y_index, model.coef_, model.intercept_, strategy, K, C)
    theirs = oracle_objectives(X, y_index, coef_ref, intercept_ref, strategy, K, C)
    for k, (f_ours, f_theirs) in enumerate(zip(ours, theirs)):
        assert f_ours <= f_theirs * (1 + tol["objective"]), (
            f"sub-problem {k}: objective {f_ours!r} above scikit-learn's {f_theirs!r}"
        )


DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]


# ---------------------------------------------------------------------------------------------
# Multi-class


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", C_VALUES)
@pytest.mark.parametrize("name", MULTICLASS_DATASETS)
def test_softmax_matches_sklearn(name, C, dtype):
    sk, coef_ref, intercept_ref = reference(name, C, "softmax")
    model, X = fit_multilogit(name, C, "softmax", dtype)
    K = len(model.classes_)
    assert K >= 3
    assert model.n_iter_.shape == (1,)
    assert_same_solution(name, C, "softmax", dtype, model, coef_ref, intercept_ref)

    X64 = dataset(name)[0]
    proba = model.predict_proba(X)
    assert proba.shape == (X.shape[0], K)
    proba_err = np.max(np.abs(proba - sk.predict_proba(X64)))
    assert proba_err <= tolerances(dtype)["proba"], f"probabilities differ by {proba_err:.3g}"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=10 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(proba, axis=1)])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", C_VALUES)
@pytest.mark.parametrize("name", MULTICLASS_DATASETS)
def test_ovr_matches_sklearn(name, C, dtype):
    sk, coef_ref, intercept_ref = reference(name, C, "ovr")
    model, X = fit_multilogit(name, C, "ovr", dtype)
    K = len(model.classes_)
    assert model.n_iter_.shape == (K,)
    assert_same_solution(name, C, "ovr", dtype, model, coef_ref, intercept_ref)

    X64 = dataset(name)[0]
    tol = tolerances(dtype)
    proba_err = np.max(np.abs(model.predict_proba(X) - sk.predict_proba(X64)))
    assert proba_err <= tol["proba"], f"probabilities differ by {proba_err:.3g}"
    decision = model.decision_function(X)
    assert decision.shape == (X.shape[0], K)
    np.testing.assert_allclose(decision, scores(X, model.coef_, model.intercept_),
                               rtol=0, atol=1e-4 * max(1.0, np.max(np.abs(decision))))
    np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(decision, axis=1)])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", C_VALUES)
@pytest.mark.parametrize("name", MULTICLASS_DATASETS)
def test_ovo_matches_sklearn(name, C, dtype):
    sk, coef_ref, intercept_ref = reference(name, C, "ovo")
    model, X = fit_multilogit(name, C, "ovo", dtype)
    K = len(model.classes_)
    assert model.coef_.shape[0] == K * (K - 1) // 2
    assert model.n_iter_.shape == (K * (K - 1) // 2,)
    assert_same_solution(name, C, "ovo", dtype, model, coef_ref, intercept_ref)

    # every pair on its own, not only the stack
    tol = tolerances(dtype)
    for unit in range(coef_ref.shape[0]):
        pair_err = relative_error(model.coef_[unit], coef_ref[unit])
        assert pair_err <= tol["coef"], f"pair {unit}: coef relative error {pair_err:.3g}"

    X64 = dataset(name)[0]
    # A pair's vote differs only where its score is within the (bounded) score error of zero.
    z_ref = scores(X64, coef_ref, intercept_ref)
    flipped = (scores(X64, model.coef_, model.intercept_) > 0) != (z_ref > 0)
    clear = ~np.any(flipped, axis=1)
    assert np.mean(~clear) <= (0.01 if dtype == np.float64 else 0.05)

    decision = model.decision_function(X)
    decision_ref = sk.decision_function(X64)
    assert decision.shape == decision_ref.shape == (X.shape[0], K)
    decision_err = np.max(np.abs(decision - decision_ref)[clear])
    assert decision_err <= tol["ovo_decision"] * max(1.0, np.max(np.abs(z_ref))), (
        f"decision_function differs by {decision_err:.3g}"
    )
    predicted, predicted_ref = model.predict(X), sk.predict(X64)
    np.testing.assert_array_equal(predicted[clear], predicted_ref[clear])
    if dtype == np.float64:
        np.testing.assert_array_equal(predicted, predicted_ref)
    else:
        # single precision may flip a vote whose pair score is within rounding of zero
        assert np.mean(predicted == predicted_ref) >= 0.99

    proba = model.predict_proba(X)
    assert proba.shape == (X.shape[0], K)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Two classes: every strategy is scikit-learn's binary model


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("C", C_VALUES)
@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
@pytest.mark.parametrize("name", BINARY_DATASETS)
def test_binary_matches_sklearn(name, strategy, C, dtype):
    sk, coef_ref, intercept_ref = reference(name, C, "softmax")
    model, X = fit_multilogit(name, C, strategy, dtype)
    assert model.coef_.shape == (1, X.shape[1])
    assert model.intercept_.shape == (1,)
    assert model.n_iter_.shape == (1,)
    assert_same_solution(name, C, strategy, dtype, model, coef_ref, intercept_ref)

    X64 = dataset(name)[0]
    tol = tolerances(dtype)
    decision = model.decision_function(X)
    assert decision.shape == (X.shape[0],)
    decision_ref = sk.decision_function(X64)
    decision_err = np.max(np.abs(decision - decision_ref))
    assert decision_err <= tol["coef"] * np.max(np.abs(decision_ref))
    proba = model.predict_proba(X)
    assert proba.shape == (X.shape[0], 2)
    proba_err = np.max(np.abs(proba - sk.predict_proba(X64)))
    assert proba_err <= tol["proba"], f"probabilities differ by {proba_err:.3g}"
    # positive decision means classes_[1]
    np.testing.assert_array_equal(model.predict(X), model.classes_[(decision > 0).astype(int)])


# ---------------------------------------------------------------------------------------------
# The package's objective_value agrees with the oracle (it is what users rank models by)


@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_objective_value_matches_oracle(name, strategy):
    from multilogit import objective_value

    X, y = dataset(name)
    _, coef, intercept = reference(name, 1.0, "softmax" if name == "breast_cancer" else strategy)
    classes = np.unique(y)
    y_index = np.searchsorted(classes, y)
    expected = sum(oracle_objectives(X, y_index, coef, intercept, strategy, len(classes), 1.0))
    actual = objective_value(X, y, coef, intercept, classes=classes, strategy=strategy, C=1.0)
    assert actual == pytest.approx(expected, rel=1e-12)
    # no penalty with C = inf
    unpenalised = objective_value(
        X, y, coef, intercept, classes=classes, strategy=strategy, C=np.inf
    )
    expected_unpenalised = sum(
        oracle_objectives(X, y_index, coef, intercept, strategy, len(classes), np.inf)
    )
    assert unpenalised == pytest.approx(expected_unpenalised, rel=1e-12)
    assert unpenalised < actual
