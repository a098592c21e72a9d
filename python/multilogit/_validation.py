"""Checks of hyper-parameters, feature matrices and labels.

Feature matrices follow the zero-copy contract of the extension: float32 and float64 arrays in
C or Fortran order (read-only ones included) pass through untouched; anything else is converted
exactly once, here, before it reaches the compiled code.
"""

import contextlib
import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_array, validate_data

STRATEGIES = ("softmax", "ovr", "ovo")
SOLVERS = ("auto", "lbfgs", "newton-cg", "newton-cholesky")

_FLOAT_DTYPES = [np.float64, np.float32]


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _describe(value):
    return f"{value!r} (type {type(value).__name__})"


def check_params(estimator):
    """Validate the hyper-parameters of ``estimator``.

    Returns a dict of the values to hand to the extension, with ``n_threads=None`` resolved to
    0 (all cores). Raises TypeError for a value of the wrong type and ValueError for a value out
    of range; either message names the parameter.
    """
    strategy = estimator.strategy
    if not isinstance(strategy, str):
        raise TypeError(
            f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; "
            f"got {_describe(strategy)}."
        )
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; got {strategy!r}."
        )

    C = estimator.C
    if not _is_real(C):
        raise TypeError(f"C must be a positive float (or inf for no penalty); got {_describe(C)}.")
    C = float(C)
    if math.isnan(C) or C <= 0:
        raise ValueError(f"C must be a positive float (or inf for no penalty); got C={C!r}.")

    l1_ratio = estimator.l1_ratio
    if not _is_real(l1_ratio):
        raise TypeError(f"l1_ratio must be a float in [0, 1]; got {_describe(l1_ratio)}.")
    l1_ratio = float(l1_ratio)
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1]; got l1_ratio={l1_ratio!r}.")

    solver = estimator.solver
    if not isinstance(solver, str):
        raise TypeError(
            f"solver must be one of {', '.join(map(repr, SOLVERS))}; got {_describe(solver)}."
        )
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVERS))}; got {solver!r}.")
    if solver.startswith("newton") and l1_ratio > 0:
        raise ValueError(
            f"solver={solver!r} does not support l1_ratio > 0 (got l1_ratio={l1_ratio!r}): an L1 "
            "penalty needs solver='auto' or 'lbfgs' (OWL-QN)."
        )

    tol = estimator.tol
    if not _is_real(tol):
        raise TypeError(f"tol must be a non-negative float; got {_describe(tol)}.")
    tol = float(tol)
    if not math.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a non-negative finite float; got tol={tol!r}.")

    max_iter = estimator.max_iter
    if not _is_integer(max_iter):
        raise TypeError(f"max_iter must be an integer >= 1; got {_describe(max_iter)}.")
    if max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1; got max_iter={max_iter!r}.")

    fit_intercept = estimator.fit_intercept
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be a bool; got {_describe(fit_intercept)}.")

    n_threads = resolve_n_threads(estimator.n_threads)

    verbose = estimator.verbose
    if not isinstance(verbose, numbers.Integral):  # True/False are accepted as 1/0
        raise TypeError(f"verbose must be an integer >= 0; got {_describe(verbose)}.")
    if verbose < 0:
        raise ValueError(f"verbose must be an integer >= 0; got verbose={verbose!r}.")

    return {
        "strategy": strategy,
        "C": C,
        "l1_ratio": l1_ratio,
        "tol": tol,
        "max_iter": int(max_iter),
        "fit_intercept": bool(fit_intercept),
        "n_threads": int(n_threads),
        "solver": solver,
        "verbose": int(verbose),
    }


def resolve_n_threads(n_threads):
    """Check ``n_threads`` and return the extension's value: None -> 0 (all cores)."""
    if n_threads is None:
        return 0
    if not _is_integer(n_threads):
        raise TypeError(f"n_threads must be None or an integer >= 1; got {_describe(n_threads)}.")
    if n_threads < 1:
        raise ValueError(
            f"n_threads must be None (all cores) or an integer >= 1; got n_threads={n_threads!r}."
        )
    return int(n_threads)


def _contiguous(X):
    # The extension reads C- and F-ordered arrays and CSR/CSC matrices in place; only strided
    # views need a copy.
    if sp.issparse(X):
        return X
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X


def _validate_kwargs():
    return dict(
        dtype=_FLOAT_DTYPES,
        # Other sparse formats are converted to CSR once; unsorted and duplicate entries are
        # read as they are (duplicates add up, as in SciPy).
        accept_sparse=["csr", "csc"],
        accept_large_sparse=True,
        # The extension checks finiteness in the same read of X that uses it (see
        # non_finite_named); a check here would be a second pass over X.
        ensure_all_finite=False,
        ensure_min_samples=1,
        order=None,
        copy=False,
    )


def _passes_unchanged(X):
    """Whether scikit-learn's validation (``_validate_kwargs``) would return ``X`` itself, with no
    warning: a NumPy array of float64 or float32 in native byte order, two-dimensional, not
    empty, C- or F-contiguous. Its checks of such an array cost more than a small fit's
    arithmetic or scoring a few thousand rows, so they are skipped."""
    return (
        type(X) is np.ndarray
        and X.ndim == 2
        and (X.dtype == np.float64 or X.dtype == np.float32)
        and X.shape[0] >= 1
        and X.shape[1] >= 1
        and (X.flags.c_contiguous or X.flags.f_contiguous)
    )


def validate_training_data(estimator, X, y):
    """Validate ``X`` and ``y`` for ``fit``; sets ``n_features_in_`` (and
    ``feature_names_in_`` for data frames) on ``estimator``."""
    if (
        _passes_unchanged(X)
        and type(y) is np.ndarray
        and y.ndim == 1
        and y.dtype.kind in "biu"  # labels scikit-learn passes as they are (finite)
        and y.shape[0] == X.shape[0]
    ):
        # What validate_data(reset=True) records for an array without feature names.
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return X, y
    X, y = validate_data(estimator, X, y, reset=True, **_validate_kwargs())
    return _contiguous(X), y


def validate_prediction_data(estimator, X):
    """Validate ``X`` for prediction against the features seen in ``fit``."""
    if (
        _passes_unchanged(X)
        and X.shape[1] == estimator.n_features_in_
        and not hasattr(estimator, "feature_names_in_")  # else scikit-learn warns or checks
    ):
        return X
    X = validate_data(estimator, X, reset=False, **_validate_kwargs())
    return _contiguous(X)


# The message of the extension's finiteness check.
_EXTENSION_NON_FINITE = "X contains NaN or infinity"


@contextlib.contextmanager
def non_finite_named(estimator, X):
    """Run an extension call on validated ``X``; if the extension finds NaN or infinity in it,
    raise scikit-learn's ValueError instead, which tells NaN from infinity. Only this error
    path reads X a second time."""
    try:
        yield
    except ValueError as error:
        if str(error) != _EXTENSION_NON_FINITE:
            raise
        try:
            check_array(X, accept_sparse=True, dtype=None, ensure_all_finite=True,
                        input_name="X", estimator=estimator)
        except ValueError as named:
            raise named from None
        raise


def encode_labels(y):
    """Return ``(classes, indices)``: the sorted unique labels and, for each sample, the int32
    index of its label in ``classes``. At least two classes are required."""
    # A 1-D array of integers or booleans always holds classes; scikit-learn's check of the
    # target type (which rejects continuous and multi-output targets) would take longer than
    # a small fit.
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "biu"):
        check_classification_targets(y)
    encoded = _encode_by_counting(y)
    classes, indices = encoded if encoded is not None else np.unique(y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {classes[0]!r}."
        )
    return classes, np.ascontiguousarray(indices.reshape(-1), dtype=np.int32)


def _encode_by_counting(y):
    """``np.unique(y, return_inverse=True)`` for integer labels spanning no more values than
    there are labels, by counting them: a few passes over y, where np.unique sorts it (several
    times slower on large y). None for other labels."""
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size):
        return None
    low, high = int(y.min()), int(y.max())
    bounds = np.iinfo(np.intp)
    if low < bounds.min or high > bounds.max or high - low > max(y.size, 256):
        return None
    offsets = y.astype(np.intp, copy=False) - low
    present = np.bincount(offsets, minlength=high - low + 1) > 0
    classes = (np.flatnonzero(present) + low).astype(y.dtype)
    index_of_offset = np.cumsum(present, dtype=np.int32) - 1
    return classes, index_of_offset[offsets]


def effective_sample_weight(sample_weight, class_weight, X, classes, y_index):
    """The weight of each row: ``sample_weight`` (default 1) times the weight of its class.

    Returns None when every weight is 1, else a contiguous float64 array. Raises ValueError for
    negative or non-finite weights, for ``class_weight`` keys that are not classes, and when a
    class is left with zero total weight.
    """
    if sample_weight is None and class_weight is None:
        return None
    weights = None
    if sample_weight is not None:
        weights = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
    if class_weight is not None:
        if not (isinstance(class_weight, dict) or class_weight == "balanced"):
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict; got {class_weight!r}."
            )
        if isinstance(class_weight, dict):
            unknown = [key for key in class_weight if key not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight has keys that are not classes of y: {unknown!r} "
                    f"(classes: {classes.tolist()!r})."
                )
        per_class = compute_class_weight(
            class_weight, classes=classes, y=classes[y_index], sample_weight=weights
        )
        by_row = per_class[y_index]
        weights = by_row if weights is None else weights * by_row
    totals = np.bincount(y_index, weights=weights, minlength=classes.shape[0])
    empty = np.flatnonzero(totals <= 0)
    if empty.size:
        raise ValueError(
            f"class {classes[empty[0]].tolist()!r} has zero total weight: each class needs at least one "
            "sample with a positive sample_weight (and class_weight)."
        )
    return np.ascontiguousarray(weights, dtype=np.float64)
