"""Model files: ``LogisticRegression.save`` and ``multilogit.load``.

The bytes are written and parsed by the C++ core (``multilogit/model_file.hpp``), so a file
saved here loads in C++ and the reverse; docs/model-format.md specifies the format. This module
only maps an estimator to the file's fields and back:

- class labels: integers (any NumPy integer dtype, or Python ints in an object array) are
  stored as int64 and come back as an int64 array; strings (NumPy ``str`` or ``str`` objects)
  are stored as UTF-8 and come back as a NumPy ``str`` array. Other label types (float, bool,
  bytes, mixed objects) are refused with a ValueError;
- coefficients keep their dtype (float32 or float64) and every bit, so the loaded estimator's
  decision values, probabilities and predictions are bitwise identical to the saved one's;
- the training options C, l1_ratio, fit_intercept, tol and max_iter of the fit, the fitted
  strategy and ``feature_names_in_`` are stored. ``class_weight``, ``warm_start``, ``n_threads``
  and ``verbose`` are not (a loaded estimator has their defaults), nor are ``n_iter_`` and
  ``n_evaluations_``.
"""

from __future__ import annotations

import numbers
import os
from typing import IO, TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
from sklearn.utils.validation import check_is_fitted

from . import _backend

if TYPE_CHECKING:
    from ._estimator import LogisticRegression

# A path, or a binary file object opened for reading or writing.
File: TypeAlias = "str | os.PathLike[str] | IO[bytes]"

_INT64 = np.iinfo(np.int64)


def _encode_classes(classes: npt.NDArray[Any]) -> npt.NDArray[np.int64] | list[bytes]:
    """``classes_`` as the file stores them: int64 values, or UTF-8 encoded strings."""
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    items = classes.tolist()
    if kind in "iu" or (
        kind == "O"
        and all(isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)) for c in items)
    ):
        if any(not _INT64.min <= int(c) <= _INT64.max for c in items):
            raise ValueError(
                "cannot save the model: model files store integer class labels as int64, and "
                f"{classes.min()!r} or {classes.max()!r} does not fit."
            )
        return np.array([int(c) for c in items], dtype=np.int64)
    if kind == "U" or (kind == "O" and all(isinstance(c, str) for c in items)):
        return [_utf8(str(c), "class label") for c in items]
    raise ValueError(
        f"cannot save the model: its class labels have dtype {classes.dtype} "
        f"(e.g. {items[0]!r}); model files store integer or string labels. Fit with y converted "
        "to int or str (for example y.astype(int) or y.astype(str))."
    )


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"cannot save the model: {what} {text!r} cannot be encoded as UTF-8 ({error.reason})."
        ) from None


def _decode_classes(classes: npt.NDArray[np.int64] | list[str]) -> npt.NDArray[Any]:
    if isinstance(classes, np.ndarray):
        return classes
    labels = np.array(classes, dtype=str)
    if labels.tolist() != classes:  # NumPy str arrays drop trailing NUL characters
        labels = np.empty(len(classes), dtype=object)
        labels[:] = classes
    return labels


def to_bytes(estimator: LogisticRegression) -> bytes:
    """The model file of a fitted estimator."""
    check_is_fitted(estimator)
    options = getattr(estimator, "_fitted_options", None)
    if options is None:  # fitted before options were recorded: its current parameters
        from ._validation import check_params

        options = check_params(estimator)
    coef = np.ascontiguousarray(estimator.coef_)
    if coef.dtype not in (np.float32, np.float64):
        raise ValueError(f"cannot save the model: coef_ has dtype {coef.dtype}.")
    intercept = np.ascontiguousarray(estimator.intercept_, dtype=coef.dtype)
    names = getattr(estimator, "feature_names_in_", None)
    return _backend.encode_model(
        strategy=estimator._fitted_strategy,
        coef=coef,
        intercept=intercept,
        classes=_encode_classes(estimator.classes_),
        feature_names=None if names is None else [_utf8(str(n), "feature name") for n in names],
        C=options["C"],
        l1_ratio=options["l1_ratio"],
        fit_intercept=options["fit_intercept"],
        tol=options["tol"],
        max_iter=options["max_iter"],
    )


def from_bytes(data: bytes) -> LogisticRegression:
    """A fitted estimator from the bytes of a model file."""
    from ._estimator import LogisticRegression

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"a model file's contents are bytes, got {type(data).__name__} "
            "(open the file in binary mode, 'rb')."
        )
    model = _backend.decode_model(bytes(data))
    options = {key: model[key] for key in ("C", "l1_ratio", "fit_intercept", "tol", "max_iter")}
    estimator = LogisticRegression(model["strategy"], **options)
    estimator._fitted_strategy = model["strategy"]
    estimator._fitted_options = dict(options, strategy=model["strategy"])
    estimator.classes_ = _decode_classes(model["classes"])
    estimator.coef_ = model["coef"]
    estimator.intercept_ = model["intercept"]
    estimator.n_features_in_ = model["coef"].shape[1]
    if model["feature_names"] is not None:
        estimator.feature_names_in_ = np.array(model["feature_names"], dtype=object)
    return estimator


def save(estimator: LogisticRegression, file: File) -> None:
    """Write the model file of a fitted estimator to a path or a binary file object."""
    data = to_bytes(estimator)
    if isinstance(file, (str, os.PathLike)):
        with open(os.fspath(file), "wb") as out:
            out.write(data)
    else:
        file.write(data)


def load(file: File) -> LogisticRegression:
    """Read a model file (a path or a binary file object) written by
    ``LogisticRegression.save`` or by the C++ ``multilogit::save_model``.

    Returns a fitted ``LogisticRegression`` whose decision values, probabilities and
    predictions are bitwise identical to those of the saved model. Raises ValueError naming
    the problem when the file is not a valid model file (truncated, corrupted, another format
    or a newer format version) and OSError when it cannot be read.
    """
    if isinstance(file, (bytes, bytearray, memoryview)):
        raise TypeError(
            "load takes a path or a binary file object; for bytes in memory pass io.BytesIO(data)."
        )
    if not isinstance(file, (str, os.PathLike)):
        return from_bytes(file.read())
    path = os.fspath(file)
    with open(path, "rb") as source:
        data = source.read()
    try:
        return from_bytes(data)
    except ValueError as error:
        raise ValueError(f"{path!r}: {error}") from None
