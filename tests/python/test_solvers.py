"""Every solver reaches scikit-learn's optimum, for every strategy, dtype and storage.

The references and tolerances are those of test_against_sklearn.py (scikit-learn's lbfgs run to
tol=1e-10): the solvers minimise the same objective, so only how they get there differs.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from multilogit import LogisticRegression
from test_against_sklearn import MAX_ITER, TOL, assert_same_solution, dataset, reference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["auto", "lbfgs", "newton-cg", "newton-cholesky"]
STRATEGIES = ["softmax", "ovr", "ovo"]
C = 1.0


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("name", ["wine", "synthetic12", "synthetic2"])
def test_every_solver_reaches_sklearn_optimum(name, solver, strategy, dtype, storage):
    X, y = dataset(name)
    X = X.astype(dtype)
    if storage == "csr":
        X = sp.csr_matrix(X)
    model = LogisticRegression(strategy, C=C, tol=TOL, max_iter=MAX_ITER, solver=solver)
    model.fit(X, y)
    _, coef_ref, intercept_ref = reference(name, C, strategy)
    assert_same_solution(name, C, strategy, dtype, model, coef_ref, intercept_ref)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky"])
def test_newton_solvers_on_digits(solver, strategy):
    # Ten classes and 64 features: 650 parameters for softmax, still within newton-cholesky.
    X, y = dataset("digits")
    model = LogisticRegression(strategy, C=C, tol=TOL, max_iter=MAX_ITER, solver=solver)
    model.fit(X, y)
    _, coef_ref, intercept_ref = reference("digits", C, strategy)
    assert_same_solution("digits", C, strategy, np.float64, model, coef_ref, intercept_ref)


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky"])
def test_newton_solvers_converge_in_few_iterations(solver):
    X, y = dataset("wine")
    model = LogisticRegression("ovr", tol=1e-8, solver=solver).fit(X, y)
    assert np.all(model.n_iter_ <= 20)


def test_solver_is_a_parameter():
    model = LogisticRegression(solver="newton-cg")
    assert model.get_params()["solver"] == "newton-cg"
    assert LogisticRegression().get_params()["solver"] == "auto"


@pytest.mark.parametrize("solver", ["newton", "Newton-CG", "liblinear", "", "sag"])
def test_unknown_solver_raises_value_error(solver):
    X, y = dataset("wine")
    with pytest.raises(ValueError, match="solver"):
        LogisticRegression(solver=solver).fit(X, y)


def test_solver_of_the_wrong_type_raises_type_error():
    X, y = dataset("wine")
    with pytest.raises(TypeError, match="solver"):
        LogisticRegression(solver=1).fit(X, y)


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky"])
def test_newton_solvers_refuse_l1(solver):
    X, y = dataset("wine")
    with pytest.raises(ValueError, match=f"{solver}.*l1_ratio"):
        LogisticRegression(solver=solver, l1_ratio=0.5).fit(X, y)


@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_l1_takes_owlqn(solver):
    X, y = dataset("wine")
    model = LogisticRegression(solver=solver, l1_ratio=1.0, C=0.05, tol=1e-6, max_iter=1000)
    model.fit(X, y)
    assert np.any(model.coef_ == 0)


def test_the_core_refuses_newton_with_l1():
    # The estimator checks first; the compiled core refuses on its own too.
    from multilogit import _backend

    X, y = dataset("wine")
    with pytest.raises(ValueError, match="newton-cg.*l1_ratio"):
        _backend.fit(
            X, y.astype(np.int32), 3, strategy="softmax", C=1.0, l1_ratio=0.5,
            fit_intercept=True, tol=1e-4, max_iter=100, n_threads=1, solver="newton-cg",
        )


def test_newton_cholesky_refuses_too_many_parameters():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1500))
    y = np.arange(40) % 3
    with pytest.raises(ValueError, match="newton-cholesky"):
        LogisticRegression(solver="newton-cholesky").fit(X, y)
