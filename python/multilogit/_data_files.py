"""Data files for the command line (``multilogit train`` and ``multilogit predict``).

The format follows the file's extension:

- ``.csv``: one row per line, the label in the first column and a feature in each other column,
  comma-separated; no header row, no comments; blank lines are skipped, spaces around fields
  are ignored.
- ``.npy``: a 2-D numeric array of features, without labels (so ``predict`` reports no
  accuracy, and ``train`` refuses it).
- ``.npz``: an array ``X`` (2-D, numeric) and optionally ``y`` (1-D, one label per row: integers,
  strings, or floats with integral values).
- anything else: svmlight/LIBSVM text, ``label index:value index:value ... # comment``, read
  exactly as the C++ program reads it (cpp/cli/svmlight.hpp): indices start at 1 and increase
  strictly along a line, ``#`` starts a comment, blank lines are skipped, and the rows become a
  CSR matrix.

Labels are kept as text. ``class_labels`` turns them into the labels a model stores: integers
when every label is an integer (``1``, ``-1``, ``+1``), otherwise the texts themselves. Numbers
in text files must be finite decimals (``parse_decimal``), the syntax both programs share.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

# The largest feature index a model file can store (kModelFileMaxFeatures in C++).
MAX_FEATURES = 2**31 - 1

_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_INT64 = np.iinfo(np.int64)


class DataFileError(ValueError):
    """A data file that cannot be read; the message names the file (and line) and the problem."""


@dataclass
class DataSet:
    X: Any  # float64: a C-ordered array, or a CSR matrix of shape (rows, n_columns) or wider
    labels: list[str] | None  # one label text per row, or None when the file has no labels
    n_features: int  # the columns the file uses: for svmlight, its largest feature index


def parse_decimal(text: bytes) -> float | None:
    """A finite decimal number (``[+-]digits[.digits][e[+-]digits]``, or starting with
    ``.``), correctly rounded; None for anything else, ``inf`` and ``nan`` included."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_integer(text: bytes) -> int | None:
    """A decimal integer, ``[+-]digits``, that fits in int64; None otherwise."""
    if _INTEGER.fullmatch(text) is None:
        return None
    value = int(text)
    return value if _INT64.min <= value <= _INT64.max else None


def class_labels(texts: list[str]) -> npt.NDArray[Any]:
    """The labels a model stores for these label texts: an int64 array when every text is an
    integer (so ``+1`` and ``1`` are one class), otherwise a ``str`` array of the texts."""
    integers = [parse_integer(_encode(text)) for text in texts]
    if all(value is not None for value in integers):
        return np.array(integers, dtype=np.int64)
    return np.array(texts, dtype=str)


def names_class(label: Any, text: str) -> bool:
    """Whether a label text read from a data file names the model's class ``label``: integers
    compare by value, strings by their text."""
    if isinstance(label, (int, np.integer)):
        return parse_integer(_encode(text)) == int(label)
    return str(label) == text


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as source:
            return source.read()
    except OSError as error:
        raise DataFileError(f"cannot read {path}: {error.strerror}") from None


def write_file(path: str, contents: bytes) -> None:
    try:
        with open(path, "wb") as target:
            target.write(contents)
    except OSError as error:
        raise DataFileError(f"cannot write {path}: {error.strerror}") from None


def read_data(path: str, max_features: int | None = None) -> DataSet:
    """Read a data file in the format its extension names (see the module's docstring).

    ``max_features`` (the model's number of features, when predicting) refuses svmlight indices
    above it, naming the line; dense formats are checked against the model by the estimator.
    Raises DataFileError.
    """
    extension = path.lower().rsplit(".", 1)[-1] if "." in path else ""
    if extension == "csv":
        return _read_csv(path)
    if extension in ("npy", "npz"):
        return _read_numpy(path, extension)
    return _read_svmlight(path, max_features)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(field: bytes) -> str:
    # Label bytes come back unchanged when written; invalid UTF-8 fails only if saved in a model.
    return field.decode("utf-8", "surrogateescape")


def _shown(field: bytes) -> str:
    return field.decode("utf-8", "backslashreplace")


def _lines(path: str) -> list[bytes]:
    return read_file(path).split(b"\n")


def _read_svmlight(path: str, max_features: int | None) -> DataSet:
    limit = MAX_FEATURES if max_features is None else max_features
    above_limit = (
        f"feature index above {MAX_FEATURES}"
        if max_features is None
        else f"feature index above the model's {max_features} features"
    )
    labels: list[str] = []
    row_starts = [0]
    columns: list[int] = []
    values: list[float] = []
    n_features = 0
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split(b"#", 1)[0].split()  # bytes.split: ASCII whitespace, as in C++

        def fail(problem: str, field: bytes | None = None) -> DataFileError:
            where = "" if field is None else f"'{_shown(field)}': "
            return DataFileError(f"{path}:{number}: {where}{problem}")

        if not fields:
            continue
        if b":" in fields[0]:
            raise fail(f"the line starts with '{_shown(fields[0])}', not a label")
        previous = 0
        for field in fields[1:]:
            index_text, colon, value_text = field.partition(b":")
            if not colon:
                raise fail("expected index:value", field)
            if not index_text.isdigit():
                raise fail("the feature index is not a positive integer", field)
            index = int(index_text)
            if index == 0:
                raise fail("feature indices start at 1", field)
            if index > limit:
                raise fail(above_limit, field)
            if index <= previous:
                raise fail(
                    f"feature indices must increase along a line (previous: {previous})", field
                )
            value = parse_decimal(value_text)
            if value is None:
                raise fail("the value is not a finite decimal number", field)
            columns.append(index - 1)
            values.append(value)
            previous = index
        labels.append(_decode(fields[0]))
        row_starts.append(len(values))
        n_features = max(n_features, previous)
    if not labels:
        raise DataFileError(f"{path}: no data rows")
    n_columns = n_features if max_features is None else max_features
    X = sp.csr_matrix(
        (
            np.array(values, dtype=np.float64),
            np.array(columns, dtype=np.int64),
            np.array(row_starts, dtype=np.int64),
        ),
        shape=(len(labels), n_columns),
    )
    return DataSet(X, labels, n_features)


def _read_csv(path: str) -> DataSet:
    labels: list[str] = []
    rows: list[list[float]] = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(b",")]
        if len(fields) < 2:
            raise DataFileError(
                f"{path}:{number}: no feature columns (a CSV row is: label, feature, feature, ...)"
            )
        if rows and len(fields) != len(rows[0]) + 1:
            raise DataFileError(
                f"{path}:{number}: {len(fields)} columns, but the first row has {len(rows[0]) + 1}"
            )
        if not fields[0]:
            raise DataFileError(f"{path}:{number}: the label (first column) is empty")
        row = []
        for column, field in enumerate(fields[1:], start=2):
            value = parse_decimal(field)
            if value is None:
                raise DataFileError(
                    f"{path}:{number}: column {column}: '{_shown(field)}' is not a finite "
                    "decimal number (CSV files have no header row)"
                )
            row.append(value)
        labels.append(_decode(fields[0]))
        rows.append(row)
    if not rows:
        raise DataFileError(f"{path}: no data rows")
    X = np.array(rows, dtype=np.float64)
    return DataSet(X, labels, X.shape[1])


def _read_numpy(path: str, extension: str) -> DataSet:
    try:
        loaded = np.load(path, allow_pickle=False)
    except OSError as error:
        raise DataFileError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - NumPy and zipfile raise many kinds
        raise DataFileError(f"{path}: not a valid .{extension} file ({error})") from None
    if extension == "npy":
        if not isinstance(loaded, np.ndarray):
            raise DataFileError(f"{path}: not a .npy file (it holds several arrays)")
        X = _features(path, loaded, "the array")
        return DataSet(X, None, X.shape[1])
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataFileError(f"{path}: not a .npz file (it holds a single array)")
    with loaded:
        if "X" not in loaded.files:
            raise DataFileError(
                f"{path}: no array 'X' (a .npz data file holds X and optionally y; "
                f"it has {', '.join(loaded.files) or 'no arrays'})"
            )
        X = _features(path, loaded["X"], "X")
        y = loaded["y"] if "y" in loaded.files else None
    labels = None if y is None else _label_texts(path, y, X.shape[0])
    return DataSet(X, labels, X.shape[1])


def _features(path: str, array: npt.NDArray[Any], what: str) -> npt.NDArray[np.float64]:
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DataFileError(
            f"{path}: {what} must be a 2-D numeric array of features, got {array.ndim}-D "
            f"with dtype {array.dtype}"
        )
    X = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(X).all():
        raise DataFileError(f"{path}: {what} holds NaN or infinite values")
    return X


def _label_texts(path: str, y: npt.NDArray[Any], n_rows: int) -> list[str]:
    """The labels in y as text: integers (floats with integral values too) in decimal,
    strings as they are."""
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise DataFileError(f"{path}: y must be 1-D with one label per row of X ({n_rows})")
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    if y.dtype.kind in "iu":
        return [str(int(label)) for label in y.tolist()]
    if y.dtype.kind == "U":
        return [str(label) for label in y.tolist()]
    raise DataFileError(
        f"{path}: y has dtype {y.dtype}; labels must be integers, strings or whole numbers"
    )
