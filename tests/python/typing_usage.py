"""A typed use of multilogit, for the type checker (tests/python/test_typing.py runs mypy on it).

It is also a valid program: the same test runs it, so every line here type-checks and works.
The ``type: ignore[...]`` comments mark calls the stubs must reject; mypy's
``warn_unused_ignores`` (pyproject.toml) reports any that the stubs stop rejecting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import multilogit
from multilogit import LogisticRegression, objective_value
from multilogit import _core

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value, _type):
        return value


def fit_and_score(X: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    model = LogisticRegression("ovo", C=1.0, max_iter=1000)
    pipe = make_pipeline(StandardScaler(), model)
    pipe.fit(X, y)
    proba: npt.NDArray[np.float64] = pipe.predict_proba(X)
    assert proba.shape == (X.shape[0], 3)
    objective: float = objective_value(
        StandardScaler().fit_transform(X),
        y,
        model.coef_,
        model.intercept_,
        classes=model.classes_,
        strategy="ovo",
        C=1.0,
    )
    assert objective > 0
    return float(pipe.score(X, y))


def core_round_trip(X: npt.NDArray[np.float32], y: npt.NDArray[np.int32]) -> None:
    # The compiled module keeps X's dtype through the coefficients and the scores.
    iterations: list[int] = []

    def progress(problem: int, iteration: int, objective: float, gradient: float,
                 finished: bool) -> None:
        iterations.append(iteration)

    result = _core.fit(X, y, 3, "softmax", 1.0, True, 1e-4, 200, 1, progress=progress)
    assert iterations
    coef = assert_type(result["coef"], npt.NDArray[np.float32])
    intercept = assert_type(result["intercept"], npt.NDArray[np.float32])
    assert_type(result["n_iter"], npt.NDArray[np.int32])
    assert_type(result["converged"], npt.NDArray[np.bool_])
    assert_type(result["objective"], npt.NDArray[np.float64])

    proba = _core.predict_proba(X, "softmax", 3, coef, intercept, n_threads=1)
    assert_type(proba, npt.NDArray[np.float32])
    scores = _core.decision_function(X, "softmax", 3, coef, intercept, n_threads=1)
    assert_type(scores, npt.NDArray[np.float32])
    labels = _core.predict(X, "softmax", 3, coef, intercept, n_threads=1)
    assert_type(labels, npt.NDArray[np.int32])
    assert labels.dtype == np.int32 and proba.dtype == np.float32 and scores.dtype == np.float32

    warm = _core.fit(
        X, y, 3, "softmax", 1.0, True, 1e-4, 200, 1,
        sample_weight=np.ones(X.shape[0]), initial_coef=coef, initial_intercept=intercept,
        l1_ratio=0.5,
    )
    assert warm["coef"].dtype == np.float32

    # A CSR matrix goes in as its own arrays.
    indptr = np.arange(0, X.size + 1, X.shape[1], dtype=np.int64)
    indices = np.tile(np.arange(X.shape[1], dtype=np.int64), X.shape[0])
    sparse = ("csr", np.ascontiguousarray(X).reshape(-1), indices, indptr,
              (X.shape[0], X.shape[1]))
    sparse_proba = _core.predict_proba(sparse, "softmax", 3, coef, intercept, 1)
    assert_type(sparse_proba, npt.NDArray[np.float32])
    assert np.allclose(sparse_proba, proba, atol=1e-5)

    # Rejected by the stubs, as by the bindings at run time (TypeError).
    if TYPE_CHECKING:
        coef64 = np.zeros(coef.shape, dtype=np.float64)
        y64 = np.zeros(y.shape, dtype=np.int64)
        _core.predict(X, "softmax", 3, coef64, intercept, 1)  # type: ignore[type-var]
        _core.fit(X, y64, 3, "softmax", 1.0, True, 1e-4, 200, 1)  # type: ignore[arg-type]
        _core.fit(X, y, 3, "softmax", 1.0, True, 1e-4, 200, 1, 0)  # type: ignore[arg-type]


def main() -> None:
    version: str = multilogit.__version__
    assert version
    data = load_iris()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    assert fit_and_score(X, y) > 0.9
    core_round_trip(np.ascontiguousarray(X, dtype=np.float32), y.astype(np.int32))


if __name__ == "__main__":
    main()
