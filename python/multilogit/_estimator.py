"""The scikit-learn compatible estimator."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from . import _backend, _model_file
from ._progress import ProgressReporter
from ._validation import (
    check_params,
    effective_sample_weight,
    encode_labels,
    non_finite_named,
    resolve_n_threads,
    validate_prediction_data,
    validate_training_data,
)


def _problem_names(strategy, classes):
    """A readable name for each optimisation problem, in the order the extension reports them."""
    labels = [repr(c) for c in classes.tolist()]
    if len(labels) == 2:
        return [f"{labels[1]} vs {labels[0]}"]
    if strategy == "ovr":
        return [f"{c} vs rest" for c in labels]
    if strategy == "ovo":
        return [
            f"{labels[i]} vs {labels[j]}"
            for i in range(len(labels))
            for j in range(i + 1, len(labels))
        ]
    return ["softmax"]


def _warn_if_not_converged(converged, n_iter, params, names):
    """One ConvergenceWarning per fit, saying which problems failed and why."""
    failed = ~np.asarray(converged, dtype=bool)
    if not failed.any():
        return
    listed = [names[k] for k in np.flatnonzero(failed)]
    which = ", ".join(listed[:10]) + (f" and {len(listed) - 10} more" if len(listed) > 10 else "")
    max_iter, tol = params["max_iter"], params["tol"]
    # A solver that stopped before max_iter found no step that still decreases the objective.
    at_limit = int(np.count_nonzero(failed & (n_iter >= max_iter)))
    stalled = int(np.count_nonzero(failed)) - at_limit
    reasons = []
    if at_limit:
        reasons.append(f"{at_limit} reached max_iter={max_iter}")
    if stalled:
        reasons.append(
            f"{stalled} stopped early because no step decreased the objective any more "
            f"(X may be badly scaled, or tol={tol:g} below what X's dtype can resolve)"
        )
    warnings.warn(
        f"{int(np.count_nonzero(failed))} of {failed.shape[0]} optimisation problem(s) did not "
        f"converge ({which}): {'; '.join(reasons)}. Consider scaling X (e.g. with "
        "sklearn.preprocessing.StandardScaler), increasing max_iter, or raising tol.",
        ConvergenceWarning,
        stacklevel=4,  # the caller of fit
    )


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Multi-class logistic regression with an L2 or elastic-net penalty.

    Every strategy minimises the same per-problem objectives as scikit-learn's
    ``LogisticRegression(solver="lbfgs")``, so their optima coincide for equal ``C``:

    - binary problems: ``(1/n) sum_i log(1 + exp(-t_i (w.x_i + b))) + ||w||^2 / (2 C n)``;
    - softmax: ``(1/n) sum_i (logsumexp(z_i) - z_{i, y_i}) + ||W||_F^2 / (2 C n)`` with
      ``z_i = W x_i + b``.

    The intercept is never penalised. With two classes every strategy fits one binary model
    whose positive class is ``classes_[1]``.

    Parameters
    ----------
    strategy : {"softmax", "ovr", "ovo"}, default="softmax"
        How the classes are combined:

        - ``"softmax"``: one multinomial model over all classes (one row of ``coef_`` per class);
        - ``"ovr"``: one-vs-rest, one binary model per class against all others; probabilities
          are the per-class sigmoids normalised to sum to one;
        - ``"ovo"``: one-vs-one, one binary model per pair of classes ``(i, j)``, ``i < j`` in
          ``classes_`` order, trained on the samples of those two classes with ``j`` positive.
          Prediction by votes with confidence tie-breaking as in scikit-learn's
          ``OneVsOneClassifier``; probabilities by pairwise coupling (Wu, Lin and Weng, 2004).
    C : float, default=1.0
        Inverse regularisation strength, > 0; ``float("inf")`` disables the penalty.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing, as in scikit-learn 1.8: the penalty is
        ``(l1_ratio * ||W||_1 + (1 - l1_ratio) * ||W||_F^2 / 2) / (C * S)``, so 0 is the L2
        penalty and 1 the lasso. Any L1 part is handled by OWL-QN, which gives exact zeros in
        ``coef_``; ``tol`` then bounds the minimum-norm subgradient.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    tol : float, default=1e-4
        Each solver stops once the max-norm of the gradient of its objective is at most ``tol``.
    max_iter : int, default=100
        Maximum number of solver iterations per optimisation problem.
    solver : {"auto", "lbfgs", "newton-cg", "newton-cholesky"}, default="auto"
        The solver of each optimisation problem; all reach the same optimum:

        - ``"lbfgs"``: L-BFGS, cheap iterations (one pass over ``X`` each); it keeps up to 100
          correction pairs while they hold no more values than ``X`` (at least 10);
        - ``"newton-cg"``: trust-region Newton, each step from conjugate gradients on
          Hessian-vector products (one pass over ``X`` each); few, costly iterations;
        - ``"newton-cholesky"``: Newton with the full Hessian (p x p for p coefficients per
          problem, at most 4096), solved by Cholesky; for few features, dense ``X`` above all;
        - ``"auto"``: ``"lbfgs"``, the fastest or within 1.3x of it on every measured shape
          (the measurements are in the C++ core's ``training.hpp``).

        With ``l1_ratio > 0`` the solver is OWL-QN, which ``"auto"`` and ``"lbfgs"`` select;
        the Newton solvers raise ValueError.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplying the weight of each sample of that class (for every
        strategy, in every sub-problem the sample takes part in). ``"balanced"`` uses
        ``n_samples / (n_classes * weighted count of the class)`` as scikit-learn does.
    warm_start : bool, default=False
        Start ``fit`` from the previous solution when the previous fit had the same strategy,
        classes and number of features (otherwise start from zero).
    n_threads : int or None, default=None
        Number of threads; ``None`` uses all cores. Results do not depend on it.
    verbose : int, default=0
        1: show progress (a bar on a terminal; a few lines when output goes to a log);
        2 or more: one line per solver iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels seen in ``fit``.
    coef_ : ndarray of shape (n_units, n_features)
        Weights: ``n_units`` is 1 for two classes, ``n_classes`` for softmax and ovr,
        ``n_classes * (n_classes - 1) // 2`` for ovo (pairs ``(0, 1), (0, 2), ...``).
    intercept_ : ndarray of shape (n_units,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : ndarray of shape (n_problems,)
        Iterations run by each optimisation problem: one for softmax and for two classes,
        ``n_classes`` for ovr, one per pair for ovo.
    n_evaluations_ : ndarray of shape (n_problems,)
        Evaluations of the loss and its gradient by each problem's solver: the starting
        point's and at least one per iteration, more where a line search tries several steps.
        Hessian-vector products are not counted.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit``, when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from multilogit import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
    >>> clf.predict(X[:2])
    array([0, 0])
    """

    def __init__(
        self,
        strategy="softmax",
        *,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        tol=1e-4,
        max_iter=100,
        solver="auto",
        class_weight=None,
        warm_start=False,
        n_threads=None,
        verbose=0,
    ):
        self.strategy = strategy
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR and CSC are read in place
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. float32 and float64 arrays in C or Fortran order are used in place.
        y : array-like of shape (n_samples,)
            Class labels (at least two distinct values).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; an integer weight k counts the sample k times.
            The objective is normalised by the sum of the weights.

        Returns
        -------
        self : LogisticRegression
        """
        params = check_params(self)
        try:
            self._fit(X, y, sample_weight, params)
        except BaseException:
            # A fit that fails or is interrupted (Ctrl-C) leaves no half-fitted estimator.
            self._forget_fit()
            raise
        return self

    def _forget_fit(self):
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        self.__dict__.pop("_fitted_strategy", None)
        self.__dict__.pop("_fitted_options", None)

    def _fit(self, X, y, sample_weight, params):
        X, y = validate_training_data(self, X, y)
        classes, y_index = encode_labels(y)
        weights = effective_sample_weight(sample_weight, self.class_weight, X, classes, y_index)
        initial = self._warm_start_arrays(params["strategy"], classes, X)

        names = _problem_names(params["strategy"], classes)
        verbose = params.pop("verbose")
        progress = ProgressReporter(len(names), verbose) if verbose > 0 else None
        try:
            with non_finite_named(self, X):
                result = _backend.fit(
                    X,
                    y_index,
                    classes.shape[0],
                    **params,
                    progress=progress,
                    sample_weight=weights,
                    **initial,
                )
        finally:
            if progress is not None:
                progress.close()

        # The strategy the coefficients belong to, whatever set_params does later.
        self._fitted_strategy = params["strategy"]
        self._fitted_options = dict(params)  # what save() records
        self.classes_ = classes
        self.coef_ = result["coef"]
        self.intercept_ = result["intercept"]
        self.n_iter_ = np.asarray(result["n_iter"])
        self.n_evaluations_ = np.asarray(result["n_evaluations"])
        _warn_if_not_converged(result["converged"], self.n_iter_, params, names)

    def _warm_start_arrays(self, strategy, classes, X):
        """The previous solution, when warm_start is on and it fits this problem."""
        if not self.warm_start or not hasattr(self, "coef_"):
            return {}
        same_problem = (
            self._fitted_strategy == strategy
            and self.coef_.shape[1] == X.shape[1]
            and np.array_equal(self.classes_, classes)
        )
        if not same_problem:
            return {}
        return dict(
            initial_coef=np.ascontiguousarray(self.coef_, dtype=X.dtype),
            initial_intercept=np.ascontiguousarray(self.intercept_, dtype=X.dtype),
        )

    def _model_args(self, X):
        # Model arrays must share X's dtype; cast the (small) model, never X.
        return dict(
            strategy=self._fitted_strategy,
            n_classes=self.classes_.shape[0],
            coef=np.ascontiguousarray(self.coef_, dtype=X.dtype),
            intercept=np.ascontiguousarray(self.intercept_, dtype=X.dtype),
            n_threads=resolve_n_threads(self.n_threads),
        )

    def _predict_with(self, backend_function, X):
        check_is_fitted(self)
        X = validate_prediction_data(self, X)
        with non_finite_named(self, X):
            return backend_function(X, **self._model_args(X))

    def decision_function(self, X):
        """Decision values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive means ``classes_[1]``), else
        (n_samples, n_classes). For ovo these are votes plus confidences squashed into
        (-1/3, 1/3), as in scikit-learn's ``OneVsOneClassifier``.
        """
        return self._predict_with(_backend.decision_function, X)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        softmax: the softmax of the scores; ovr: the per-class sigmoids normalised to sum to
        one; ovo: pairwise coupling (Wu, Lin and Weng 2004, second method) of the pairwise
        sigmoid probabilities. For ovo, ``predict`` counts votes while these probabilities weigh
        every pair's confidence, so their argmax can differ from ``predict`` on samples whose
        vote is close (the two leading classes within one vote).
        """
        return self._predict_with(_backend.predict_proba, X)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels, shape (n_samples,), taken from ``classes_``."""
        class_index = self._predict_with(_backend.predict, X)
        return self.classes_[class_index]

    def save(self, file):
        """Write the fitted model to a model file, read back by ``multilogit.load`` or by the
        C++ ``multilogit::load_model`` (format: docs/model-format.md).

        Parameters
        ----------
        file : str, path-like or binary file object

        The file holds the coefficients (every bit, in their dtype), ``classes_`` (integer or
        string labels; other label types raise ValueError), ``feature_names_in_``, the fitted
        strategy and the training options C, l1_ratio, fit_intercept, tol and max_iter.
        """
        _model_file.save(self, file)
