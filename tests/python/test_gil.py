"""The extension releases the GIL while it trains and predicts, so other Python threads run."""

import threading
import time

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from multilogit import LogisticRegression


def _python_progress_during(work):
    """Count loop turns the calling thread makes while `work` runs in another thread."""
    started = threading.Event()

    def run():
        started.set()
        work()

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    turns = 0
    t0 = time.perf_counter()
    while worker.is_alive():
        turns += 1
    return turns, time.perf_counter() - t0


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40_000, 60))
    y = np.argmax(X[:, :4] + 0.5 * rng.standard_normal((40_000, 4)), axis=1)
    return X, y


@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
def test_fit_releases_the_gil(data, strategy):
    X, y = data
    model = LogisticRegression(strategy, tol=0.0, max_iter=40, n_threads=1)
    with pytest.warns(ConvergenceWarning):  # stops at max_iter on purpose
        turns, seconds = _python_progress_during(lambda: model.fit(X, y))
    assert seconds > 0.05, "the fit was too short to tell"
    # Holding the GIL, the C++ loop would leave this thread no turn at all while it runs.
    assert turns > 1000 * seconds


def test_predict_releases_the_gil(data):
    X, y = data
    model = LogisticRegression(n_threads=1).fit(X[:2000], y[:2000])
    big = np.tile(X, (10, 1))

    def predict_many():
        for _ in range(5):
            model.predict_proba(big)

    turns, seconds = _python_progress_during(predict_many)
    assert seconds > 0.05, "prediction was too short to tell"
    assert turns > 1000 * seconds
