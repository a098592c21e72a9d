"""multilogit.objective_value on cases whose value is known in closed form."""

import numpy as np
import pytest

from multilogit import LogisticRegression, objective_value


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.array(["a", "b", "c", "d"])[np.arange(40) % 4]
    return X, y


def test_zero_coefficients(data):
    X, y = data
    classes = np.unique(y)
    zeros = np.zeros((4, 3))
    kwargs = dict(classes=classes, C=1.0)
    # every sample has probability 1/K (softmax) or 1/2 (each binary problem)
    assert objective_value(X, y, zeros, None, strategy="softmax", **kwargs) == pytest.approx(
        np.log(4)
    )
    assert objective_value(X, y, zeros, None, strategy="ovr", **kwargs) == pytest.approx(
        4 * np.log(2)
    )
    assert objective_value(
        X, y, np.zeros((6, 3)), np.zeros(6), strategy="ovo", **kwargs
    ) == pytest.approx(6 * np.log(2))
    binary = y == "a"
    assert objective_value(
        X, binary, np.zeros((1, 3)), [0.0], classes=[False, True], strategy="ovo", C=np.inf
    ) == pytest.approx(np.log(2))


def test_penalty_and_intercept(data):
    X, y = data
    y2 = (y == "a").astype(int)
    w = np.array([[0.5, -1.0, 2.0]])
    base = objective_value(X, y2, w, [0.3], classes=[0, 1], strategy="softmax", C=np.inf)
    penalised = objective_value(X, y2, w, [0.3], classes=[0, 1], strategy="softmax", C=2.0)
    assert penalised - base == pytest.approx(np.sum(w**2) / (2 * 2.0 * len(y2)))


def test_extreme_scores_stay_finite(data):
    X, y = data
    coef = 1e4 * np.ones((4, 3))
    for strategy in ("softmax", "ovr"):
        value = objective_value(X, y, coef, None, classes=np.unique(y), strategy=strategy, C=1.0)
        assert np.isfinite(value)


def test_fitted_model_minimises_it(data):
    X, y = data
    model = LogisticRegression("ovr", tol=1e-10, max_iter=1000).fit(X, y)
    kwargs = dict(classes=model.classes_, strategy="ovr", C=1.0)
    best = objective_value(X, y, model.coef_, model.intercept_, **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(5):
        nudged = model.coef_ + 1e-3 * rng.standard_normal(model.coef_.shape)
        assert objective_value(X, y, nudged, model.intercept_, **kwargs) > best


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="multinomial"), "strategy must be one of"),
        (dict(C=0.0), "C must be positive"),
        (dict(coef=np.zeros((3, 3))), r"coef must have shape \(4, 3\)"),
        (dict(classes=np.array(["a", "b", "c"])), "not in classes"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    X, y = data
    args = dict(coef=np.zeros((4, 3)), intercept=None, classes=np.unique(y), strategy="softmax",
                C=1.0)
    args.update(kwargs)
    coef, intercept = args.pop("coef"), args.pop("intercept")
    with pytest.raises(ValueError, match=message):
        objective_value(X, y, coef, intercept, **args)
