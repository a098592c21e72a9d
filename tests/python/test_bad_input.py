"""Bad input raises ValueError or TypeError with a message naming the problem."""

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError

from multilogit import LogisticRegression

STRATEGIES = ["softmax", "ovr", "ovo"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = np.arange(30) % 3
    return X, y


@pytest.fixture(params=STRATEGIES)
def strategy(request):
    return request.param


# ------------------------------------------------------------------------------ feature matrix


NON_FINITE = [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity"),
              (-np.inf, "Input X contains infinity")]

# Every storage the extension reads in place, where it checks finiteness itself.
STORAGES = {
    "C float64": lambda X: X,
    "F float32": lambda X: np.asfortranarray(X, dtype=np.float32),
    "CSR": sparse.csr_matrix,
    "CSC": sparse.csc_matrix,
}


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("value, message", NON_FINITE)
def test_non_finite_X(data, strategy, storage, value, message):
    X, y = data
    X = X.copy()
    X[3, 1] = value
    with pytest.raises(ValueError, match=message):
        LogisticRegression(strategy).fit(STORAGES[storage](X), y)


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("value, message", NON_FINITE)
def test_non_finite_X_at_prediction(data, strategy, storage, value, message):
    X, y = data
    model = LogisticRegression(strategy).fit(X, y)
    X = X.copy()
    X[-1, 0] = value
    X = STORAGES[storage](X)
    for method in (model.predict, model.predict_proba, model.decision_function):
        with pytest.raises(ValueError, match=message):
            method(X)


@pytest.mark.parametrize("storage", STORAGES)
def test_scores_overflowing_at_prediction(data, strategy, storage):
    X, y = data
    model = LogisticRegression(strategy, C=1e4).fit(X * 1e-3, y)  # coefficients far above 1
    largest = np.unravel_index(np.abs(model.coef_).argmax(), model.coef_.shape)[1]
    assert np.abs(model.coef_[:, largest]).max() > 2
    dtype = np.float32 if "float32" in storage else np.float64
    # Finite, but its score of that coefficient's unit is not.
    huge = np.zeros((3, X.shape[1]))
    huge[:, largest] = np.finfo(dtype).max / 2
    huge = STORAGES[storage](huge)
    for method in (model.predict, model.predict_proba, model.decision_function):
        with pytest.raises(ValueError, match="so large that the model's scores overflow"):
            method(huge)


def test_length_mismatch(data, strategy):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LogisticRegression(strategy).fit(X, y[:-1])


def test_one_dimensional_X(data):
    X, y = data
    with pytest.raises(ValueError, match="Expected a 2-dimensional container|Reshape your data"):
        LogisticRegression().fit(X[:, 0], y)
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="Reshape your data"):
        model.predict(X[0])


def test_three_dimensional_X(data):
    X, y = data
    with pytest.raises(ValueError, match="dim 3|3-dimensional|Expected 2D"):
        LogisticRegression().fit(X.reshape(30, 2, 2), y)


def test_one_class(data, strategy):
    X, _ = data
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression(strategy).fit(X, np.full(X.shape[0], 7))


def test_empty_X(strategy):
    with pytest.raises(ValueError, match="0 sample"):
        LogisticRegression(strategy).fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        LogisticRegression(strategy).fit(np.empty((5, 0)), np.arange(5) % 2)


def test_empty_X_at_prediction(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        model.predict(np.empty((0, X.shape[1])))


def test_string_X(data):
    _, y = data
    X = np.array([["a", "b"]] * 30)
    with pytest.raises(ValueError, match="could not convert string to float|numeric"):
        LogisticRegression().fit(X, y)


def test_object_X_with_strings(data):
    _, y = data
    X = np.array([[1.0, "x"]] * 30, dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float|numeric"):
        LogisticRegression().fit(X, y)


def test_complex_X(data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        LogisticRegression().fit(X + 1j, y)


def test_sparse_X_with_nan_or_inf(data):
    X, y = data
    for bad in (np.nan, np.inf):
        Xs = sparse.csr_matrix(X)
        Xs.data[3] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            LogisticRegression().fit(Xs, y)


# ---------------------------------------------------------------------------------------- labels


def test_nan_labels(data):
    X, _ = data
    y = (np.arange(30) % 3).astype(float)
    y[4] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        LogisticRegression().fit(X, y)


def test_nan_in_object_labels(data):
    X, _ = data
    y = np.array(["a", "b", "c"] * 10, dtype=object)
    y[5] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        LogisticRegression().fit(X, y)


def test_continuous_labels(data):
    X, _ = data
    y = np.linspace(0, 1, 30)
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, y)


def test_missing_labels(data):
    X, _ = data
    with pytest.raises(ValueError, match="requires y to be passed"):
        LogisticRegression().fit(X, None)


def test_two_dimensional_labels(data):
    X, y = data
    with pytest.raises(ValueError, match="y should be a 1d array"):
        LogisticRegression().fit(X, np.column_stack([y, y]))


# ------------------------------------------------------------------------------- hyper-parameters


@pytest.mark.parametrize("C", [0, 0.0, -1.0, np.nan, -np.inf])
def test_non_positive_C(data, C):
    X, y = data
    with pytest.raises(ValueError, match="C must be a positive float"):
        LogisticRegression(C=C).fit(X, y)


@pytest.mark.parametrize("C", ["1", None, True, [1.0]])
def test_C_wrong_type(data, C):
    X, y = data
    with pytest.raises(TypeError, match="C must be a positive float"):
        LogisticRegression(C=C).fit(X, y)


@pytest.mark.parametrize("tol", [-1e-4, np.nan, np.inf])
def test_bad_tol(data, tol):
    X, y = data
    with pytest.raises(ValueError, match="tol must be a non-negative"):
        LogisticRegression(tol=tol).fit(X, y)


def test_tol_wrong_type(data):
    X, y = data
    with pytest.raises(TypeError, match="tol must be a non-negative"):
        LogisticRegression(tol="small").fit(X, y)


@pytest.mark.parametrize("max_iter", [0, -5])
def test_max_iter_below_one(data, max_iter):
    X, y = data
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        LogisticRegression(max_iter=max_iter).fit(X, y)


@pytest.mark.parametrize("max_iter", [10.0, 2.5, "10", None, True])
def test_max_iter_wrong_type(data, max_iter):
    X, y = data
    with pytest.raises(TypeError, match="max_iter must be an integer"):
        LogisticRegression(max_iter=max_iter).fit(X, y)


@pytest.mark.parametrize("strategy", ["multinomial", "OVR", "", "ova"])
def test_unknown_strategy(data, strategy):
    X, y = data
    with pytest.raises(ValueError, match="strategy must be one of 'softmax', 'ovr', 'ovo'"):
        LogisticRegression(strategy).fit(X, y)


def test_strategy_wrong_type(data):
    X, y = data
    with pytest.raises(TypeError, match="strategy must be one of"):
        LogisticRegression(1).fit(X, y)


@pytest.mark.parametrize("n_threads", [0, -1])
def test_bad_n_threads(data, n_threads):
    X, y = data
    with pytest.raises(ValueError, match="n_threads must be None"):
        LogisticRegression(n_threads=n_threads).fit(X, y)


def test_n_threads_wrong_type(data):
    X, y = data
    with pytest.raises(TypeError, match="n_threads must be None or an integer"):
        LogisticRegression(n_threads=1.5).fit(X, y)


def test_bad_fit_intercept(data):
    X, y = data
    with pytest.raises(TypeError, match="fit_intercept must be a bool"):
        LogisticRegression(fit_intercept="yes").fit(X, y)


def test_bad_verbose(data):
    X, y = data
    with pytest.raises(ValueError, match="verbose must be an integer >= 0"):
        LogisticRegression(verbose=-1).fit(X, y)
    with pytest.raises(TypeError, match="verbose must be an integer"):
        LogisticRegression(verbose=0.5).fit(X, y)


def test_bad_parameters_do_not_set_attributes(data):
    X, y = data
    model = LogisticRegression(C=-1.0)
    with pytest.raises(ValueError):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


# ------------------------------------------------------------------------------------- prediction


def test_wrong_number_of_features(data, strategy):
    X, y = data
    model = LogisticRegression(strategy).fit(X, y)
    for method in (model.predict, model.predict_proba, model.decision_function,
                   model.predict_log_proba):
        with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4"):
            method(X[:, :3])


def test_predict_before_fit(data):
    X, _ = data
    model = LogisticRegression()
    for method in (model.predict, model.predict_proba, model.decision_function,
                   model.predict_log_proba):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(X)

