"""Thin layer over the compiled extension.

This is the only module that imports ``multilogit._core``; everything else in the package calls
these functions. They expect arrays that have already been validated (see ``_validation``):
``X`` is a 2-D float32 or float64 array in C or Fortran order, ``y`` a contiguous int32 array of
class indices, and model arrays have ``X``'s dtype. Nothing is copied here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

import scipy.sparse as sp

from . import _core


def _design(X: _Matrix[_Float]) -> _Design[_Float]:
    """X as the extension takes it: the array itself, or a sparse matrix's own arrays."""
    if isinstance(X, np.ndarray):
        return X
    return (X.format, X.data, X.indices, X.indptr, X.shape)  # a validated CSR/CSC matrix

if TYPE_CHECKING:
    from ._core import _Design, _DecodedModel, _FitResult

# X's dtype, which the model arrays share and the results keep.
_Float = TypeVar("_Float", np.float32, np.float64)

# A validated X: a dense array, or a CSR/CSC matrix (scipy has no type information: Any).
_Matrix: TypeAlias = "npt.NDArray[_Float] | sp.sparray | sp.spmatrix"


def fit(
    X: _Matrix[_Float],
    y: npt.NDArray[np.int32],
    n_classes: int,
    *,
    strategy: str,
    C: float,
    l1_ratio: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
    n_threads: int,
    solver: str = "auto",
    progress: Callable[[int, int, float, float, bool], object] | None = None,
    sample_weight: npt.NDArray[np.float64] | None = None,
    initial_coef: npt.NDArray[_Float] | None = None,
    initial_intercept: npt.NDArray[_Float] | None = None,
) -> _FitResult[_Float]:
    """Train a model; returns a dict with ``coef``, ``intercept``, ``n_iter``,
    ``n_evaluations``, ``converged`` and ``objective`` (one entry per optimisation problem for
    the last four).

    ``solver`` is ``"auto"``, ``"lbfgs"``, ``"newton-cg"`` or ``"newton-cholesky"``;
    ``progress`` is None or a callable ``(problem, iteration, objective, gradient_norm,
    finished)``; ``sample_weight`` is None or a contiguous float64 array; ``initial_coef`` and
    ``initial_intercept`` (X's dtype) warm-start every problem from a previous fit."""
    return _core.fit(
        _design(X),
        y,
        int(n_classes),
        str(strategy),
        float(C),
        bool(fit_intercept),
        float(tol),
        int(max_iter),
        int(n_threads),
        progress,
        sample_weight,
        initial_coef,
        initial_intercept,
        float(l1_ratio),
        str(solver),
    )


def decision_function(
    X: _Matrix[_Float],
    *,
    strategy: str,
    n_classes: int,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: int,
) -> npt.NDArray[_Float]:
    """Decision values, shape (n,) for two classes and (n, n_classes) otherwise."""
    return _core.decision_function(_design(X), strategy, int(n_classes), coef, intercept, int(n_threads))


def predict_proba(
    X: _Matrix[_Float],
    *,
    strategy: str,
    n_classes: int,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: int,
) -> npt.NDArray[_Float]:
    """Class probabilities, shape (n, n_classes)."""
    return _core.predict_proba(_design(X), strategy, int(n_classes), coef, intercept, int(n_threads))


def predict(
    X: _Matrix[_Float],
    *,
    strategy: str,
    n_classes: int,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    n_threads: int,
) -> npt.NDArray[np.int32]:
    """Predicted class indices (int32), shape (n,)."""
    return _core.predict(_design(X), strategy, int(n_classes), coef, intercept, int(n_threads))


def encode_model(
    *,
    strategy: str,
    coef: npt.NDArray[_Float],
    intercept: npt.NDArray[_Float],
    classes: npt.NDArray[np.int64] | list[bytes],
    feature_names: list[bytes] | None,
    C: float,
    l1_ratio: float,
    fit_intercept: bool,
    tol: float,
    max_iter: int,
) -> bytes:
    """A model file's bytes: ``classes`` are int64 labels or UTF-8 encoded strings, and
    ``coef`` and ``intercept`` share a dtype (float32 or float64)."""
    return _core.encode_model(
        str(strategy), coef, intercept, classes, feature_names, float(C), float(l1_ratio),
        bool(fit_intercept), float(tol), int(max_iter),
    )


def decode_model(data: bytes) -> _DecodedModel:
    """The contents of a model file; ValueError naming the problem for anything else."""
    return _core.decode_model(data)


def instruction_set() -> str:
    """The instruction set the compute kernels run with: the best of ``"avx512"``, ``"avx2"``
    and ``"generic"`` this CPU supports, or a lower one named by the environment variable
    ``MULTILOGIT_ISA`` when the process started."""
    return _core.instruction_set()
