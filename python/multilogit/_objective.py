"""The training objective, evaluated in NumPy.

A reference for checking fitted models (this package's or scikit-learn's) against each other:
the lower the value at given coefficients, the better they solve the training problem.
"""

import numpy as np

from ._validation import STRATEGIES


def _binary_objective(X, positive, w, b, C):
    # (1/n) sum log(1 + exp(-t z)) + ||w||^2 / (2 C n), t = +1 for the positive class
    n = X.shape[0]
    if n == 0:
        raise ValueError("A binary sub-problem has no samples; every class needs samples.")
    z = X @ w + b
    margins = np.where(positive, z, -z)
    loss = np.logaddexp(0.0, -margins).sum()  # stable log(1 + exp(-m))
    penalty = 0.0 if np.isinf(C) else (w @ w) / (2.0 * C)
    return float((loss + penalty) / n)


def _softmax_objective(X, y, W, b, C):
    # (1/n) sum (logsumexp(z_i) - z_{i, y_i}) + ||W||_F^2 / (2 C n)
    n = X.shape[0]
    Z = X @ W.T + b
    top = Z.max(axis=1, keepdims=True)
    logsumexp = top[:, 0] + np.log(np.exp(Z - top).sum(axis=1))
    loss = (logsumexp - Z[np.arange(n), y]).sum()
    penalty = 0.0 if np.isinf(C) else np.sum(W * W) / (2.0 * C)
    return float((loss + penalty) / n)


def objective_value(X, y, coef, intercept, *, classes, strategy, C):
    """Value of the training objective at the given coefficients.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Labels, each one of ``classes``.
    coef : array-like of shape (n_units, n_features)
        Weights laid out as ``LogisticRegression.coef_``: one row for two classes, one per class
        for softmax and ovr, one per pair ``(0, 1), (0, 2), ..., (K-2, K-1)`` for ovo.
    intercept : array-like of shape (n_units,) or None
        Intercepts; None means zeros.
    classes : array-like of shape (n_classes,)
        Sorted class labels; with two of them, ``classes[1]`` is the positive class.
    strategy : {"softmax", "ovr", "ovo"}
    C : float
        Inverse regularisation strength; ``inf`` means no penalty.

    Returns
    -------
    float
        The binary or softmax logistic loss averaged over the samples
        of each problem plus ``||w||^2 / (2 C n)``, summed over the sub-problems for ovr and ovo.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}.")
    C = float(C)
    if not C > 0:
        raise ValueError(f"C must be positive (or inf); got C={C!r}.")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got shape {X.shape}.")
    classes = np.asarray(classes)
    y = np.asarray(y).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}.")
    K = classes.shape[0]
    if K < 2:
        raise ValueError(f"At least 2 classes are required; got {K}.")
    y_index = np.searchsorted(classes, y)
    known = y_index < K
    known[known] = classes[y_index[known]] == y[known]
    if not known.all():
        raise ValueError("y contains labels that are not in classes.")

    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    n_units = 1 if K == 2 else (K * (K - 1) // 2 if strategy == "ovo" else K)
    if coef.shape != (n_units, X.shape[1]):
        raise ValueError(
            f"coef must have shape {(n_units, X.shape[1])} for {K} classes and "
            f"strategy={strategy!r}; got {coef.shape}."
        )
    if intercept is None:
        intercept = np.zeros(n_units)
    intercept = np.asarray(intercept, dtype=np.float64).reshape(n_units)

    if K == 2:
        return _binary_objective(X, y_index == 1, coef[0], intercept[0], C)
    if strategy == "softmax":
        return _softmax_objective(X, y_index, coef, intercept, C)
    if strategy == "ovr":
        return sum(
            _binary_objective(X, y_index == k, coef[k], intercept[k], C) for k in range(K)
        )
    total = 0.0
    unit = 0
    for i in range(K):
        for j in range(i + 1, K):
            rows = (y_index == i) | (y_index == j)
            total += _binary_objective(
                X[rows], y_index[rows] == j, coef[unit], intercept[unit], C
            )
            unit += 1
    return total
