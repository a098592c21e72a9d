"""The estimator inside scikit-learn's tooling, persistence, label types, warnings, threads."""

import contextlib
import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import multilogit
from multilogit import LogisticRegression
from multilogit._progress import ProgressReporter
from multilogit._validation import encode_labels

STRATEGIES = ["softmax", "ovr", "ovo"]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_public_api():
    assert multilogit.LogisticRegression is LogisticRegression
    assert callable(multilogit.objective_value)
    assert isinstance(multilogit.__version__, str) and multilogit.__version__


def test_default_parameters():
    params = LogisticRegression().get_params()
    assert params == {
        "strategy": "softmax",
        "C": 1.0,
        "l1_ratio": 0.0,
        "fit_intercept": True,
        "tol": 1e-4,
        "max_iter": 100,
        "solver": "auto",
        "class_weight": None,
        "warm_start": False,
        "n_threads": None,
        "verbose": 0,
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pipeline(iris, strategy):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), LogisticRegression(strategy, max_iter=1000))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.93
    assert pipe.predict_proba(X).shape == (150, 3)
    np.testing.assert_allclose(pipe.predict_proba(X).sum(axis=1), 1.0)


def test_grid_search(iris):
    X, y = iris
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    grid = GridSearchCV(
        pipe,
        {"clf__C": [0.001, 1.0, 100.0], "clf__strategy": STRATEGIES},
        cv=3,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 9
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    # heavy regularisation is clearly worse on iris
    assert grid.best_params_["clf__C"] != 0.001
    assert grid.best_score_ > 0.9
    assert grid.best_estimator_.named_steps["clf"].strategy in STRATEGIES


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cross_val_score(iris, strategy):
    X, y = iris
    scores = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(strategy, max_iter=1000)), X, y, cv=5
    )
    assert scores.shape == (5,)
    assert scores.mean() > 0.9


def test_clone_keeps_parameters_and_drops_state(iris):
    X, y = iris
    model = LogisticRegression("ovo", C=3.0, fit_intercept=False, tol=1e-6, max_iter=77,
                               n_threads=2, verbose=0).fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coef_")
    assert "ovo" in repr(copy) and "C=3.0" in repr(copy)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fit_intercept_false_gives_zero_intercept(iris, strategy):
    X, y = iris
    model = LogisticRegression(strategy, fit_intercept=False).fit(X, y)
    assert np.all(model.intercept_ == 0)
    assert model.score(X, y) > 0.8


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pickle_and_joblib_round_trip(iris, strategy, tmp_path):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression(strategy).fit(X, y)

    restored = pickle.loads(pickle.dumps(model))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    reloaded = joblib.load(path)

    for other in (restored, reloaded):
        assert other.get_params() == model.get_params()
        np.testing.assert_array_equal(other.coef_, model.coef_)
        np.testing.assert_array_equal(other.predict(X), model.predict(X))
        np.testing.assert_array_equal(other.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(other.decision_function(X), model.decision_function(X))


LABEL_SETS = {
    "strings": np.array(["setosa", "versicolor", "virginica"]),
    "object strings": np.array(["b", "a", "c"], dtype=object),
    "negative ints": np.array([-7, 0, 42]),
    "integral floats": np.array([1.0, 2.0, -3.0]),
    "bool": np.array([True, False]),
    "binary strings": np.array(["no", "yes"]),
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("labels", list(LABEL_SETS), ids=list(LABEL_SETS))
def test_label_types(iris, labels, strategy):
    X, target = iris
    X = StandardScaler().fit_transform(X)
    values = LABEL_SETS[labels]
    y = values[target % len(values)]
    model = LogisticRegression(strategy).fit(X, y)

    np.testing.assert_array_equal(model.classes_, np.unique(y))
    predicted = model.predict(X)
    assert predicted.dtype == model.classes_.dtype
    assert set(predicted) <= set(model.classes_)
    assert np.mean(predicted == y) > 0.6
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), len(values))
    np.testing.assert_array_equal(predicted, model.classes_[np.argmax(proba, axis=1)])
    if len(values) == 2:
        assert model.coef_.shape == (1, X.shape[1])
        decision = model.decision_function(X)
        np.testing.assert_array_equal(predicted == model.classes_[1], decision > 0)


def test_labels_need_not_be_contiguous_integers(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    reference = LogisticRegression().fit(X, y)
    shifted = LogisticRegression().fit(X, 10 * y + 3)
    np.testing.assert_array_equal(shifted.classes_, [3, 13, 23])
    np.testing.assert_array_equal(shifted.coef_, reference.coef_)
    np.testing.assert_array_equal(shifted.predict(X), 10 * reference.predict(X) + 3)


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 3, 2, 1], dtype=np.int8),
        np.array([-128, 127, 0, 127], dtype=np.int8),  # offsets beyond int8
        np.array([7, 9, 7], dtype=np.uint16),
        np.array([2**63 + 5, 2**63 + 1, 2**63 + 5], dtype=np.uint64),  # beyond intp
        np.array([-(2**62), 2**62, 0], dtype=np.int64),  # a span far beyond the count
        np.array([10**6, 10**6 + 300, 10**6], dtype=np.int64),  # past the count, within 256
        np.random.RandomState(0).randint(-5, 40, 10_000),
        np.array([True, False, True]),
    ],
    ids=lambda y: f"{y.dtype}-{y.size}",
)
def test_encoded_labels_are_those_of_unique(y):
    classes, indices = encode_labels(y)
    expected_classes, expected_indices = np.unique(y, return_inverse=True)
    assert classes.dtype == y.dtype
    np.testing.assert_array_equal(classes, expected_classes)
    assert indices.dtype == np.int32
    np.testing.assert_array_equal(indices, expected_indices)


def test_list_input(iris):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X.tolist(), y.tolist())
    np.testing.assert_array_equal(model.predict(X.tolist()), model.predict(X))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_convergence_warning_emitted_once(strategy):
    X, y = make_classification(n_samples=200, n_features=10, n_informative=6, n_classes=4,
                               random_state=0)
    X = X * 1000.0  # badly scaled, so two iterations cannot converge
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression(strategy, max_iter=2).fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1, [str(w.message) for w in caught]
    message = str(convergence[0].message)
    n_problems = model.n_iter_.shape[0]
    assert f"of {n_problems} optimisation problem(s) did not converge" in message
    assert "reached max_iter=2" in message and "scaling X" in message
    assert convergence[0].filename == __file__  # points at the caller's fit
    assert np.all(model.n_iter_ <= 2)


def test_convergence_warning_when_tol_is_below_float32_precision(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression(tol=1e-12, max_iter=10000).fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1
    assert "1 stopped early" in str(convergence[0].message)
    assert model.n_iter_[0] < 10000
    assert model.score(X, y) > 0.9  # the model is still the (float32) optimum


def test_no_convergence_warning_when_converged(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for strategy in STRATEGIES:
            model = LogisticRegression(strategy, max_iter=1000).fit(X, y)
            assert np.all(model.n_iter_ < 1000)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky"])
def test_n_iter_and_n_evaluations(iris, strategy, solver):
    X, y = iris
    model = LogisticRegression(strategy, solver=solver, max_iter=1000).fit(
        StandardScaler().fit_transform(X), y)
    expected = {"softmax": 1, "ovr": 3, "ovo": 3}[strategy]
    assert model.n_iter_.shape == (expected,)
    assert np.all(model.n_iter_ >= 1)
    # The starting point's evaluation, then at least one per iteration.
    assert model.n_evaluations_.shape == (expected,)
    assert np.all(model.n_evaluations_ >= model.n_iter_ + 1)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_thread_count_does_not_change_results(strategy, dtype):
    # large enough that the work is split between threads
    X, y = make_classification(n_samples=20000, n_features=40, n_informative=20, n_classes=5,
                               random_state=0)
    X = StandardScaler().fit_transform(X).astype(dtype)
    models = [
        LogisticRegression(strategy, n_threads=n, max_iter=30, tol=1e-6).fit(X, y)
        for n in (1, 2, 3)
    ]
    for other in models[1:]:
        np.testing.assert_array_equal(other.coef_, models[0].coef_)
        np.testing.assert_array_equal(other.intercept_, models[0].intercept_)
        np.testing.assert_array_equal(other.n_iter_, models[0].n_iter_)
        np.testing.assert_array_equal(other.n_evaluations_, models[0].n_evaluations_)
        np.testing.assert_array_equal(other.predict_proba(X), models[0].predict_proba(X))
        np.testing.assert_array_equal(other.decision_function(X), models[0].decision_function(X))


def test_refit_is_deterministic(iris):
    X, y = iris
    first = LogisticRegression("ovr", max_iter=1000).fit(X, y).coef_.copy()
    second = LogisticRegression("ovr", max_iter=1000).fit(X, y).coef_
    np.testing.assert_array_equal(first, second)


def test_changing_strategy_after_fit_does_not_change_the_model(iris):
    X, y = iris
    model = LogisticRegression("ovo", max_iter=1000).fit(X, y)
    before = model.decision_function(X)
    model.set_params(strategy="softmax", n_threads=1)
    np.testing.assert_array_equal(model.decision_function(X), before)


def test_plain_arrays_leave_what_validation_leaves(iris):
    # Float arrays skip scikit-learn's validation; a model refitted on one after a data frame
    # drops the frame's feature names as validation would, and predicts without its warning.
    pd = pytest.importorskip("pandas")
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(pd.DataFrame(X, columns=list("abcd")), y)
    assert hasattr(model, "feature_names_in_")
    narrow = np.ascontiguousarray(X[:, :3])
    model.fit(narrow, y)
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(narrow)
        model.predict(np.asfortranarray(narrow, dtype=np.float32))
    with pytest.raises(ValueError, match="X has 4 features, but .* is expecting 3"):
        model.predict(X)


def test_dataframe_feature_names(iris):
    pd = pytest.importorskip("pandas")  # listed in the project's test extras
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    model = LogisticRegression(max_iter=1000).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = model.predict(X)
    np.testing.assert_array_equal(model.predict(frame), from_array)
    renamed = frame.rename(columns={"petal_w": "other"})
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(renamed)
    assert not hasattr(LogisticRegression(max_iter=1000).fit(X, y), "feature_names_in_")


@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
def test_verbose_2_reports_every_iteration(strategy, capsys):
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(strategy, verbose=2, n_threads=1, max_iter=1000).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if "iteration" in line]
    n_problems = model.n_iter_.shape[0]
    assert len(lines) == int(model.n_iter_.sum()) + n_problems  # plus one "stopped" each
    assert sum("(stopped)" in line for line in lines) == n_problems
    assert all("objective" in line and "gradient" in line for line in lines)


def test_verbose_1_keeps_logs_short():
    X, y = load_digits(return_X_y=True)
    with io.StringIO() as log:  # not a terminal
        with contextlib.redirect_stdout(log):
            LogisticRegression("ovo", verbose=1, max_iter=1000).fit(X, y)
        lines = log.getvalue().splitlines()
    assert 1 <= len(lines) <= 12  # 45 problems, a few hundred iterations
    assert lines[-1] == "45/45 problems done"


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_1_draws_a_bar_on_a_terminal():
    terminal = _Terminal()
    reporter = ProgressReporter(3, verbose=1, stream=terminal)
    for problem in range(3):
        for iteration in range(1, 4):
            reporter(problem, iteration, 1.0 / iteration, 0.1, False)
        reporter(problem, 3, 1 / 3, 1e-5, True)
    reporter.close()
    out = terminal.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")  # one line, redrawn in place
    assert "\r[########################] 3/3 done" in out
