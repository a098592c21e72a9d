"""The implementations compared for each strategy, built with a given tol and max_iter.

- softmax: multilogit, scikit-learn's LogisticRegression(solver="lbfgs"), and
  scikit-learn-intelex's LogisticRegression when that package is installed;
- ovr: scikit-learn's OneVsRestClassifier(LogisticRegression());
- ovo: scikit-learn's OneVsOneClassifier(LogisticRegression(), n_jobs=2).
"""

from multilogit._comparison import make_multilogit, make_sklearn
from time_to_target import Contender

MULTILOGIT = "multilogit"
SKLEARN = "scikit-learn"
SKLEARNEX = "scikit-learn-intelex"
# scikit-learn's one-vs-one wrapper fits its pairs in two worker processes, as it is commonly run.
SKLEARN_N_JOBS = {"softmax": None, "ovr": None, "ovo": 2}

PEER_MODELS = {
    (SKLEARN, "softmax"): 'LogisticRegression(solver="lbfgs")',
    (SKLEARN, "ovr"): "OneVsRestClassifier(LogisticRegression())",
    (SKLEARN, "ovo"): "OneVsOneClassifier(LogisticRegression(), n_jobs=2)",
    (SKLEARNEX, "softmax"): "sklearnex.linear_model.LogisticRegression()",
}


def sklearnex_status():
    """(version, None) when scikit-learn-intelex can be imported, else (None, why not)."""
    from importlib.metadata import version

    try:
        from sklearnex.linear_model import LogisticRegression  # noqa: F401
    except Exception as error:  # ImportError, or a broken install failing at import time
        return None, (
            f"scikit-learn-intelex is not available ({type(error).__name__}: {error}); its "
            "column is skipped. `pip install scikit-learn-intelex` adds it."
        )
    return version("scikit-learn-intelex"), None


def multilogit_contender(strategy, X_fit, *, C, n_threads, name=MULTILOGIT):
    return Contender(
        name,
        lambda tol, max_iter: make_multilogit(
            strategy, C=C, tol=tol, max_iter=max_iter, n_threads=n_threads
        ),
        X_fit,
        MULTILOGIT,
    )


def peer_contenders(strategy, X_fit, *, C, n_threads, with_sklearnex):
    """scikit-learn's model for ``strategy`` and, for softmax, scikit-learn-intelex's."""
    peers = [
        Contender(
            SKLEARN,
            lambda tol, max_iter: make_sklearn(
                strategy, C=C, tol=tol, max_iter=max_iter, n_jobs=SKLEARN_N_JOBS[strategy]
            ),
            X_fit,
            SKLEARN,
        )
    ]
    if with_sklearnex and strategy == "softmax":
        from sklearnex.linear_model import LogisticRegression

        peers.append(
            Contender(
                SKLEARNEX,
                lambda tol, max_iter: LogisticRegression(
                    C=C, tol=tol, max_iter=max_iter, n_jobs=n_threads
                ),
                X_fit,
                SKLEARNEX,
            )
        )
    return peers
