"""Thin layer over the compiled extension.

This is the only module that imports ``multilogit._core``; everything else in the package calls
these functions. They expect arrays that have already been validated (see ``_validation``):
``X`` is a 2-D float32 or float64 array in C or Fortran order, ``y`` a contiguous int32 array of
class indices, and model arrays have ``X``'s dtype. Nothing is copied here.
"""

from . import _core


def fit(
    X,
    y,
    n_classes,
    *,
    strategy,
    C,
    fit_intercept,
    tol,
    max_iter,
    n_threads,
    verbose,
    sample_weight=None,
    initial_coef=None,
    initial_intercept=None,
):
    """Train a model; returns a dict with ``coef``, ``intercept``, ``n_iter``, ``converged``
    and ``objective`` (one entry per optimisation problem for the last three).

    ``sample_weight`` is None or a contiguous float64 array; ``initial_coef`` and
    ``initial_intercept`` (X's dtype) warm-start every problem from a previous fit."""
    return _core.fit(
        X,
        y,
        int(n_classes),
        str(strategy),
        float(C),
        bool(fit_intercept),
        float(tol),
        int(max_iter),
        int(n_threads),
        int(verbose),
        sample_weight,
        initial_coef,
        initial_intercept,
    )


def decision_function(X, *, strategy, n_classes, coef, intercept, n_threads):
    """Decision values, shape (n,) for two classes and (n, n_classes) otherwise."""
    return _core.decision_function(X, strategy, int(n_classes), coef, intercept, int(n_threads))


def predict_proba(X, *, strategy, n_classes, coef, intercept, n_threads):
    """Class probabilities, shape (n, n_classes)."""
    return _core.predict_proba(X, strategy, int(n_classes), coef, intercept, int(n_threads))


def predict(X, *, strategy, n_classes, coef, intercept, n_threads):
    """Predicted class indices (int32), shape (n,)."""
    return _core.predict(X, strategy, int(n_classes), coef, intercept, int(n_threads))
