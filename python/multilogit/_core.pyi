"""Compiled core of multilogit (internal: use multilogit.LogisticRegression).

Type stub for the pybind11 module built from python/bindings/module.cpp. Parameter names, order
and defaults are those of the bindings (every parameter may be passed by keyword); scalar
parameters take what pybind11 converts (Python or NumPy integers and floats). Array parameters
are narrower than ``numpy.ndarray``, as the bindings check at run time (TypeError otherwise):

- ``X`` is a 2-D float32 or float64 array in C or Fortran order, or the parts
  ``(format, data, indices, indptr, shape)`` of a scipy.sparse CSR or CSC matrix (``format``
  "csr" or "csc", float32 or float64 ``data``, int32 or int64 ``indices`` and ``indptr`` of one
  dtype, all contiguous 1-D), read in place;
- ``coef``, ``intercept``, ``initial_coef`` and ``initial_intercept`` have the dtype of ``X``,
  and so do the coefficients and scores returned;
- ``y`` is a contiguous 1-D int32 array of class indices, ``sample_weight`` a contiguous 1-D
  float64 array.

``progress`` is called with the GIL after every solver iteration as
``progress(problem, iteration, objective, gradient_norm, finished)``; an exception it raises
stops the fit and is re-raised.
"""

from collections.abc import Callable
from typing import Generic, SupportsFloat, SupportsIndex, SupportsInt, TypeAlias, TypedDict, TypeVar

import numpy as np
import numpy.typing as npt

# The two dtypes the core is compiled for; one call uses one of them throughout.
_Float = TypeVar("_Float", np.float32, np.float64)

_SparseIndices: TypeAlias = npt.NDArray[np.int32] | npt.NDArray[np.int64]
# (format, data, indices, indptr, (n_rows, n_cols)) of a CSR or CSC matrix.
_SparseParts: TypeAlias = tuple[
    str, npt.NDArray[_Float], _SparseIndices, _SparseIndices, tuple[SupportsIndex, SupportsIndex]
]
_Design: TypeAlias = npt.NDArray[_Float] | _SparseParts[_Float]

class _FitResult(TypedDict, Generic[_Float]):
    coef: npt.NDArray[_Float]  # (n_units, n_features)
    intercept: npt.NDArray[_Float]  # (n_units,)
    n_iter: npt.NDArray[np.int32]  # (n_problems,)
    n_evaluations: npt.NDArray[np.int32]  # (n_problems,)
    converged: npt.NDArray[np.bool_]  # (n_problems,)
    objective: npt.NDArray[np.float64]  # (n_problems,)

def fit(
    X: _Design[_Float],
    y: npt.NDArray[np.int32],
    n_classes: SupportsInt | SupportsIndex,
    strategy: str,
    C: SupportsFloat | SupportsIndex,
    fit_intercept: bool,
    tol: SupportsFloat | SupportsIndex,
    max_iter: SupportsInt | SupportsIndex,
    n_threads: SupportsInt | SupportsIndex,
    progress: Callable[[int, int, float, float, bool], object] | None = None,
    sample_weight: npt.NDArray[np.float64] | None = None,
    initial_coef: npt.NDArray[_Float] | None = None,
    initial_intercept: npt.NDArray[_Float] | None = None,
    l1_ratio: SupportsFloat | SupportsIndex = 0.0,
    solver: str = "auto",  # "auto", "lbfgs", "newton-cg" or "newton-cholesky"
) -> _FitResult[_Float]:
    """Trains a model; returns its coefficients and a report per sub-problem."""

def decision_function(
    X: _Design[_Float],
    strategy: str,
    n_classes: SupportsInt | SupportsIndex,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: SupportsInt | SupportsIndex,
) -> npt.NDArray[_Float]:
    """Scores, (n,) for two classes else (n, K)."""

def predict_proba(
    X: _Design[_Float],
    strategy: str,
    n_classes: SupportsInt | SupportsIndex,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: SupportsInt | SupportsIndex,
) -> npt.NDArray[_Float]:
    """Class probabilities, (n, K)."""

def predict(
    X: _Design[_Float],
    strategy: str,
    n_classes: SupportsInt | SupportsIndex,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: SupportsInt | SupportsIndex,
) -> npt.NDArray[np.int32]:
    """Predicted class indices, int32 (n,)."""

class _DecodedModel(TypedDict):
    strategy: str  # "softmax", "ovr" or "ovo"
    coef: npt.NDArray[np.float32] | npt.NDArray[np.float64]  # (n_units, n_features)
    intercept: npt.NDArray[np.float32] | npt.NDArray[np.float64]  # (n_units,), coef's dtype
    classes: npt.NDArray[np.int64] | list[str]  # strictly increasing
    feature_names: list[str] | None
    C: float
    l1_ratio: float
    fit_intercept: bool
    tol: float
    max_iter: int

def encode_model(
    strategy: str,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    classes: npt.NDArray[np.int64] | list[bytes],
    feature_names: list[bytes] | None,
    C: SupportsFloat | SupportsIndex,
    l1_ratio: SupportsFloat | SupportsIndex,
    fit_intercept: bool,
    tol: SupportsFloat | SupportsIndex,
    max_iter: SupportsInt | SupportsIndex,
) -> bytes:
    """The model file's bytes (docs/model-format.md)."""

def decode_model(data: bytes) -> _DecodedModel:
    """Parses a model file's bytes; ValueError naming the problem if they are not one."""

def instruction_set() -> str:
    """The instruction set the compute kernels use: 'avx512', 'avx2' or 'generic'."""
