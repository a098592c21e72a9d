"""Side-by-side fits of multilogit and its scikit-learn equivalents, for the demo and benchmarks.

Each multilogit strategy is paired with the scikit-learn model that solves the same problems:

- softmax: ``LogisticRegression()`` (lbfgs, multinomial for three or more classes);
- ovr:     ``OneVsRestClassifier(LogisticRegression())``;
- ovo:     ``OneVsOneClassifier(LogisticRegression())``;

with the same ``C``, ``tol`` and ``max_iter``. The objective reached by either is evaluated by
:func:`multilogit.objective_value` on the training data, on the coefficients of the fitted
model (for scikit-learn's wrappers, the binary estimators' coefficients stacked in their order).
"""

import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ._estimator import LogisticRegression
from ._objective import objective_value

STRATEGIES = ("softmax", "ovr", "ovo")

SKLEARN_NAMES = {
    "softmax": "sklearn LogisticRegression(lbfgs)",
    "ovr": "sklearn OneVsRestClassifier(LR)",
    "ovo": "sklearn OneVsOneClassifier(LR)",
}


def make_multilogit(strategy, *, C, tol, max_iter, n_threads=None):
    return LogisticRegression(
        strategy=strategy, C=C, tol=tol, max_iter=max_iter, n_threads=n_threads
    )


def make_sklearn(strategy, *, C, tol, max_iter, n_jobs=None):
    """scikit-learn's model for ``strategy``; ``n_jobs`` goes to the ovr/ovo wrapper."""
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier

    base = SkLogisticRegression(C=C, tol=tol, max_iter=max_iter, solver="lbfgs")
    if strategy == "softmax":
        return base
    if strategy == "ovr":
        return OneVsRestClassifier(base, n_jobs=n_jobs)
    if strategy == "ovo":
        return OneVsOneClassifier(base, n_jobs=n_jobs)
    raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")


def _binary_estimators(model):
    # scikit-learn's wrappers keep one binary LogisticRegression per class (ovr) or per pair
    # (ovo, pairs (0, 1), (0, 2), ... with the second class positive), in that order.
    return getattr(model, "estimators_", [model])


def coefficients(model):
    """(coef, intercept) laid out as multilogit's ``coef_`` / ``intercept_``."""
    estimators = _binary_estimators(model)
    if len(estimators) == 1:
        return np.asarray(model.coef_), np.asarray(model.intercept_)
    coef = np.vstack([e.coef_ for e in estimators])
    intercept = np.concatenate([np.ravel(e.intercept_) for e in estimators])
    return coef, intercept


def iterations_per_problem(model):
    """Solver iterations of each optimisation problem, in the order of ``coefficients``."""
    return np.concatenate([np.ravel(e.n_iter_) for e in _binary_estimators(model)]).astype(int)


def total_iterations(model):
    """Solver iterations summed over all optimisation problems."""
    return int(iterations_per_problem(model).sum())


def fitted_objective(model, X, y, strategy, C):
    """The training objective at a fitted model's coefficients (either library's)."""
    coef, intercept = coefficients(model)
    return objective_value(X, y, coef, intercept, classes=model.classes_, strategy=strategy, C=C)


@dataclass
class FitRecord:
    """What one timed fit produced."""

    implementation: str
    strategy: str
    seconds: float  # best (minimum) wall time over the repeats
    all_seconds: list
    accuracy: float
    objective: float
    n_iter: int
    n_not_converged: int  # ConvergenceWarnings raised by the last fit (0: every problem converged)


def _fit_recording_convergence(model, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    n_not_converged = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            n_not_converged += 1
        else:  # anything else is worth seeing
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return seconds, n_not_converged


def timed_fit(implementation, make_model, dataset, strategy, *, C, repeat=1, blas_threads=None):
    """Fit a fresh model ``repeat`` times; time each fit and evaluate the last one.

    ``blas_threads`` caps the BLAS/OpenMP pools (threadpoolctl) during the fits, so scikit-learn
    and multilogit can be given the same number of threads.
    """
    limit = nullcontext()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=int(blas_threads))
    times = []
    with limit:
        for _ in range(max(1, int(repeat))):
            model = make_model()
            seconds, n_not_converged = _fit_recording_convergence(
                model, dataset.X_train, dataset.y_train
            )
            times.append(seconds)
    objective = fitted_objective(model, dataset.X_train, dataset.y_train, strategy, C)
    accuracy = float(np.mean(model.predict(dataset.X_eval) == dataset.y_eval))
    return FitRecord(
        implementation, strategy, min(times), times, accuracy, objective,
        total_iterations(model), n_not_converged,
    )


def compare(dataset, strategy, *, C=1.0, tol=1e-4, max_iter=100, n_threads=None, repeat=1):
    """Fit multilogit and its scikit-learn equivalent on ``dataset``; returns both records.

    With ``n_threads`` set, multilogit gets that many threads and scikit-learn's BLAS is capped
    to the same number; with None both use their defaults (all cores).
    """
    multilogit_record = timed_fit(
        "multilogit",
        lambda: make_multilogit(strategy, C=C, tol=tol, max_iter=max_iter, n_threads=n_threads),
        dataset, strategy, C=C, repeat=repeat, blas_threads=n_threads,
    )
    sklearn_record = timed_fit(
        SKLEARN_NAMES[strategy],
        lambda: make_sklearn(strategy, C=C, tol=tol, max_iter=max_iter),
        dataset, strategy, C=C, repeat=repeat, blas_threads=n_threads,
    )
    return multilogit_record, sklearn_record


def add_comparison_arguments(parser, *, datasets, repeat):
    """The command-line options the demo and the benchmark share: which data sets and
    strategies, how often to fit, the solver settings and where the shared data lives."""
    from ._datasets import DATASETS

    parser.add_argument(
        "--datasets", default=",".join(datasets),
        help=f"comma-separated, from {', '.join(DATASETS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--strategies", default=",".join(STRATEGIES), help="comma-separated (default: %(default)s)"
    )
    parser.add_argument(
        "--repeat", type=int, default=repeat,
        help="fits per model; the best time counts (default: %(default)s)",
    )
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--tol", type=float, default=1e-4, help="gradient tolerance (max-norm)")
    parser.add_argument("--max-iter", type=int, default=100, help="L-BFGS iterations per problem")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="multilogit n_threads, also the cap on scikit-learn's BLAS threads "
        "(default: both use all cores)",
    )
    parser.add_argument(
        "--data-dir", default=None,
        help="shared data folder holding letter/, pendigits/, usps_zipcode/ (default: "
        "MULTILOGIT_DATA, else a shared/data folder above the working directory or the package)",
    )


def split_comparison_arguments(parser, args):
    """Turns --datasets and --strategies into checked lists."""
    from ._datasets import DATASETS

    args.datasets = [s for s in args.datasets.split(",") if s]
    args.strategies = [s for s in args.strategies.split(",") if s]
    for name in args.datasets:
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    for strategy in args.strategies:
        if strategy not in STRATEGIES:
            parser.error(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    return args

