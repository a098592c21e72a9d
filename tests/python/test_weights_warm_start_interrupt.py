"""Sample and class weights, warm starts, the convergence report and Ctrl-C during fit."""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from multilogit import LogisticRegression

STRATEGIES = ["softmax", "ovr", "ovo"]
TIGHT = dict(tol=1e-10, max_iter=10_000)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _sklearn_reference(strategy, X, y, weights, C):
    """coef and intercept of scikit-learn's lbfgs fits with these per-row weights, stacked like
    multilogit's: softmax, one binary model per class, or one per pair (second class positive)."""
    classes = np.unique(y)

    def binary(mask, positive):
        model = SkLogisticRegression(C=C, tol=1e-12, max_iter=100_000)
        model.fit(X[mask], (y[mask] == positive).astype(int), sample_weight=weights[mask])
        return model.coef_[0], model.intercept_[0]

    if strategy == "softmax":
        model = SkLogisticRegression(C=C, tol=1e-12, max_iter=100_000)
        model.fit(X, y, sample_weight=weights)
        return model.coef_, model.intercept_
    if strategy == "ovr":
        fits = [binary(np.ones_like(y, dtype=bool), c) for c in classes]
    else:
        fits = [
            binary((y == a) | (y == b), b)
            for i, a in enumerate(classes)
            for b in classes[i + 1 :]
        ]
    return np.array([w for w, _ in fits]), np.array([b for _, b in fits])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_integer_weights_equal_repeated_rows(wine, strategy):
    X, y = wine
    weights = np.arange(len(y)) % 4  # 0 drops a row, 3 triples it
    weighted = LogisticRegression(strategy, **TIGHT).fit(X, y, sample_weight=weights)
    repeated = LogisticRegression(strategy, **TIGHT).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert _relative(weighted.coef_, repeated.coef_) < 1e-6
    assert np.abs(weighted.intercept_ - repeated.intercept_).max() < 1e-6 * (
        1 + np.abs(repeated.intercept_).max()
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sample_weight_reaches_sklearn_optimum(wine, strategy):
    X, y = wine
    weights = np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))
    model = LogisticRegression(strategy, C=0.5, **TIGHT).fit(X, y, sample_weight=weights)
    coef, intercept = _sklearn_reference(strategy, X, y, weights, C=0.5)
    assert _relative(model.coef_, coef) < 1e-4
    assert np.abs(model.intercept_ - intercept).max() < 1e-4 * np.linalg.norm(coef)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0, 2: 0.5}])
def test_class_weight_reaches_sklearn_optimum(strategy, class_weight):
    X, y = make_classification(
        300, 8, n_informative=5, n_classes=3, weights=[0.6, 0.3, 0.1], random_state=1
    )
    model = LogisticRegression(strategy, class_weight=class_weight, **TIGHT).fit(X, y)
    per_class = compute_class_weight(class_weight, classes=np.unique(y), y=y)
    coef, intercept = _sklearn_reference(strategy, X, y, per_class[y], C=1.0)
    assert _relative(model.coef_, coef) < 1e-4
    if strategy == "softmax":  # the softmax case is scikit-learn's own class_weight
        reference = SkLogisticRegression(class_weight=class_weight, tol=1e-12, max_iter=100_000)
        assert _relative(model.coef_, reference.fit(X, y).coef_) < 1e-4


@pytest.mark.parametrize(
    "sample_weight, class_weight, message",
    [
        ("negative", None, "Negative values in data passed to `sample_weight`"),
        ("nan", None, "sample_weight"),
        ("short", None, "sample_weight"),
        (None, {0: 1.0, 1: 1.0, 2: 1.0, 7: 2.0}, r"keys that are not classes of y: \[7\]"),
        (None, "heavy", "class_weight must be"),
        ("zero class", None, "class 2 has zero total weight"),
    ],
)
def test_bad_weights(wine, sample_weight, class_weight, message):
    X, y = wine
    weights = {
        None: None,
        "negative": np.where(np.arange(len(y)) == 3, -1.0, 1.0),
        "nan": np.where(np.arange(len(y)) == 3, np.nan, 1.0),
        "short": np.ones(len(y) - 1),
        "zero class": (y != 2).astype(float),
    }[sample_weight]
    with pytest.raises(ValueError, match=message):
        LogisticRegression(class_weight=class_weight).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_warm_start_after_small_change_of_C(wine, strategy):
    X, y = wine
    cold = LogisticRegression(strategy, C=1.1, tol=1e-8, max_iter=10_000).fit(X, y)
    warm = LogisticRegression(strategy, C=1.0, tol=1e-8, max_iter=10_000, warm_start=True)
    warm.fit(X, y)
    warm.set_params(C=1.1)
    warm.fit(X, y)
    assert warm.n_iter_.sum() < cold.n_iter_.sum()
    assert _relative(warm.coef_, cold.coef_) < 1e-5


def test_warm_start_ignores_a_previous_fit_of_another_shape(wine):
    X, y = wine
    model = LogisticRegression(warm_start=True, max_iter=1000).fit(X[:, :5], y)
    model.fit(X, y)  # other number of features: starts from zero
    reference = LogisticRegression(max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(model.coef_, reference.coef_)


@pytest.mark.parametrize(
    "strategy, named", [("ovr", "0 vs rest"), ("ovo", "0 vs 1"), ("softmax", "softmax")]
)
def test_convergence_warning_names_the_problems(wine, strategy, named):
    X, y = wine
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogisticRegression(strategy, max_iter=2).fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1
    message = str(convergence[0].message)
    assert named in message and "max_iter=2" in message


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to this process")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_ctrl_c_interrupts_fit_quickly(strategy):
    # Separable classes and almost no penalty: the weights grow for ever, and a fit stops only
    # where the objective's decrease falls below rounding and the line search stalls; enough rows
    # that no solver gets there within the 0.2 s before the interrupt.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400_000, 50))
    y = np.argmax(X[:, :5], axis=1)
    model = LogisticRegression(strategy, C=1e10, tol=0.0, max_iter=1_000_000, n_threads=2)
    # Python's own Ctrl-C handler, whatever started the tests: a shell starting them in the
    # background (`cmd &`, no job control) makes them ignore SIGINT.
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, os.kill, args=(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous_handler)
    assert time.perf_counter() - start < 0.2 + 1.0
    with pytest.raises(NotFittedError):
        model.predict(X[:1])
