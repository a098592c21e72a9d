"""L1 and elastic-net penalties (OWL-QN) against scikit-learn's saga run to a tight tolerance.

Softmax intercepts are determined only up to a common shift (the loss is invariant to it and
intercepts are not penalised), so they are compared after centring.
"""

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from multilogit import LogisticRegression

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _saga(strategy, C, l1_ratio):
    base = SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=200_000)
    return {"softmax": base, "ovr": OneVsRestClassifier(base), "ovo": OneVsOneClassifier(base)}[
        strategy
    ]


def _stacked(strategy, reference):
    if strategy == "softmax":
        return reference.coef_, reference.intercept_
    estimators = reference.estimators_
    return (
        np.vstack([e.coef_ for e in estimators]),
        np.concatenate([e.intercept_ for e in estimators]),
    )


@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("C", [0.1, 1.0])
def test_reaches_saga_optimum_with_exact_zeros(wine, strategy, l1_ratio, C):
    X, y = wine
    model = LogisticRegression(strategy, C=C, l1_ratio=l1_ratio, tol=1e-9, max_iter=10_000)
    model.fit(X, y)
    coef, intercept = _stacked(strategy, _saga(strategy, C, l1_ratio).fit(X, y))
    assert np.linalg.norm(model.coef_ - coef) / np.linalg.norm(coef) < 1e-5
    shift = (lambda b: b - b.mean()) if strategy == "softmax" else (lambda b: b)
    assert np.abs(shift(model.intercept_) - shift(intercept)).max() < 1e-5
    # The same coefficients are exactly zero (saga's near-zeros are below 1e-8).
    np.testing.assert_array_equal(model.coef_ == 0, np.abs(coef) < 1e-8)
    assert (model.coef_ == 0).any()


def test_l1_ratio_zero_is_the_l2_penalty(wine):
    X, y = wine
    l2 = LogisticRegression(tol=1e-10, max_iter=10_000).fit(X, y)
    explicit = LogisticRegression(l1_ratio=0.0, tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_array_equal(l2.coef_, explicit.coef_)


@pytest.mark.parametrize("l1_ratio, error", [(-0.1, ValueError), (1.5, ValueError),
                                             (float("nan"), ValueError), ("half", TypeError)])
def test_bad_l1_ratio(wine, l1_ratio, error):
    X, y = wine
    with pytest.raises(error, match="l1_ratio"):
        LogisticRegression(l1_ratio=l1_ratio).fit(X, y)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_infinite_C_means_no_penalty(l1_ratio):
    from sklearn.datasets import make_classification

    X, y = make_classification(400, 5, n_informative=3, n_redundant=0, n_classes=3,
                               flip_y=0.2, random_state=0)  # overlapping: a finite optimum
    model = LogisticRegression(C=np.inf, l1_ratio=l1_ratio, tol=1e-10, max_iter=10_000).fit(X, y)
    reference = SkLogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    assert np.linalg.norm(model.coef_ - reference.coef_) / np.linalg.norm(reference.coef_) < 1e-4
    assert not (model.coef_ == 0).any()  # no L1 part without a penalty
