"""The ``multilogit`` console script: train and predict on svmlight, CSV, .npy and .npz files.

Results are checked against LogisticRegression fitted on the same matrix: the command line
must save exactly the estimator's model and report its accuracy. tests/cli/test_interchange.py
checks the same commands against the C++ program.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
import scipy.sparse as sp
from sklearn.datasets import make_classification

import multilogit
from multilogit import LogisticRegression
from multilogit._cli import main

STRATEGIES = ["softmax", "ovr", "ovo"]


def write_svmlight(path, X, labels):
    """Rows as svmlight text: zeros left out, every value written so it reads back exactly."""
    X = np.asarray(X)
    with open(path, "w") as out:
        for row, label in zip(X, labels):
            fields = [f"{j + 1}:{value!r}" for j, value in enumerate(row.tolist()) if value != 0]
            out.write(" ".join([str(label), *fields]) + "\n")


def write_csv(path, X, labels):
    with open(path, "w") as out:
        for row, label in zip(np.asarray(X), labels):
            out.write(",".join([str(label), *map(repr, row.tolist())]) + "\n")


@pytest.fixture(scope="module")
def problem():
    """Four classes with integer labels, some features zero (so svmlight rows are sparse)."""
    X, y = make_classification(
        n_samples=240, n_features=12, n_informative=6, n_classes=4, random_state=0
    )
    X[np.abs(X) < 0.5] = 0.0
    labels = np.array([-1, 1, 2, 7])[y]
    return X[:180], labels[:180], X[180:], labels[180:]


def run(capsys, *args):
    """main(args) in process: (exit status, stdout, stderr)."""
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def accuracy_line(predicted, labels):
    correct = int(np.count_nonzero(np.asarray(predicted) == np.asarray(labels)))
    return f"Accuracy = {correct / len(labels) * 100:g}% ({correct}/{len(labels)})\n"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_svmlight_train_and_predict_match_the_estimator(tmp_path, capsys, problem, strategy):
    X_train, y_train, X_test, y_test = problem
    write_svmlight(tmp_path / "train.svm", X_train, y_train)
    write_svmlight(tmp_path / "test.svm", X_test, y_test)
    model, output = tmp_path / "model", tmp_path / "predictions"

    status, out, err = run(capsys, "train", "-s", strategy, "-t", 2, tmp_path / "train.svm", model)
    assert (status, err) == (0, "")
    est = LogisticRegression(strategy, n_threads=2).fit(sp.csr_matrix(X_train), y_train)
    low, high = est.n_iter_.min(), est.n_iter_.max()
    iterations = {
        "softmax": f"{high} iterations",
        "ovr": f"4 problems, {low}-{high} iterations",
        "ovo": f"6 problems, {low}-{high} iterations",
    }[strategy]
    assert strategy == "softmax" or low < high  # else the line says "N iterations each"
    assert out == f"{strategy}: 4 classes, 180 rows, 12 features; {iterations}, converged\n"
    loaded = multilogit.load(model)
    np.testing.assert_array_equal(loaded.classes_, [-1, 1, 2, 7])
    np.testing.assert_array_equal(loaded.coef_, est.coef_)  # the same fit, bit for bit
    np.testing.assert_array_equal(loaded.intercept_, est.intercept_)

    status, out, err = run(capsys, "predict", tmp_path / "test.svm", model, output)
    assert (status, err) == (0, "")
    predicted = est.predict(X_test)
    assert out == accuracy_line(predicted, y_test)
    assert output.read_text() == "".join(f"{label}\n" for label in predicted)


def test_probabilities_are_written_so_they_read_back_exactly(tmp_path, capsys, problem):
    X_train, y_train, X_test, y_test = problem
    write_svmlight(tmp_path / "train.svm", X_train, y_train)
    write_svmlight(tmp_path / "test.svm", X_test, y_test)
    assert run(capsys, "train", "-s", "ovo", tmp_path / "train.svm", tmp_path / "m")[0] == 0
    status, _, _ = run(capsys, "predict", "-p", tmp_path / "test.svm", tmp_path / "m", tmp_path / "o")
    assert status == 0

    lines = (tmp_path / "o").read_text().splitlines()
    assert lines[0] == "labels -1 1 2 7"
    rows = [line.split(" ") for line in lines[1:]]
    est = multilogit.load(tmp_path / "m")
    assert [row[0] for row in rows] == [str(label) for label in est.predict(X_test)]
    written = np.array([[float(p) for p in row[1:]] for row in rows])
    np.testing.assert_array_equal(written, est.predict_proba(sp.csr_matrix(X_test)))


def test_options_are_stored_in_the_model(tmp_path, capsys, problem):
    X_train, y_train, _, _ = problem
    write_svmlight(tmp_path / "train.svm", X_train, y_train)
    status, _, _ = run(
        capsys, "train", "-s", "ovr", "-c", "0.5", "-l", "0.25", "-e", "1e-3", "-i", "7", "--",
        tmp_path / "train.svm", tmp_path / "m",
    )
    assert status == 0
    est = multilogit.load(tmp_path / "m")
    assert (est.strategy, est.C, est.l1_ratio, est.tol, est.max_iter) == ("ovr", 0.5, 0.25, 1e-3, 7)
    with pytest.warns(ConvergenceWarning):  # 7 iterations are too few, as the program said
        expected = LogisticRegression("ovr", C=0.5, l1_ratio=0.25, tol=1e-3, max_iter=7).fit(
            sp.csr_matrix(X_train), y_train
        )
    np.testing.assert_array_equal(est.coef_, expected.coef_)


def test_predict_accepts_files_with_fewer_features(tmp_path, capsys):
    (tmp_path / "train.svm").write_text("1 1:1 3:0.5\n2 2:1 3:-0.5\n1 1:2\n2 2:2\n")
    (tmp_path / "test.svm").write_text("1 1:1\n2 2:1.5\n")
    assert run(capsys, "train", tmp_path / "train.svm", tmp_path / "m")[0] == 0
    status, out, _ = run(capsys, "predict", tmp_path / "test.svm", tmp_path / "m", tmp_path / "o")
    assert (status, out) == (0, "Accuracy = 100% (2/2)\n")
    assert (tmp_path / "o").read_text() == "1\n2\n"


def test_label_kinds(tmp_path, capsys):
    rows = ["1:1 2:0", "1:0 2:1", "1:1 2:1"]

    def train(labels):
        text = "".join(f"{label} {row}\n" for label, row in zip(labels, rows * 2))
        (tmp_path / "d.svm").write_text(text)
        assert run(capsys, "train", tmp_path / "d.svm", tmp_path / "m")[0] == 0
        return multilogit.load(tmp_path / "m").classes_

    # Integers in any form LIBSVM writes are one class per value.
    classes = train(["+1", "-1", "3", "1", "-1", "003"])
    assert classes.dtype == np.int64 and classes.tolist() == [-1, 1, 3]
    # Anything else keeps every label as its text.
    classes = train(["1.0", "1", "cat", "1.0", "1", "cat"])
    assert classes.dtype.kind == "U" and classes.tolist() == ["1", "1.0", "cat"]

    # Accuracy compares integers by value and texts as they are.
    (tmp_path / "d.svm").write_text("+1 1:1\n-1 1:-1\n01 1:2\n")
    assert run(capsys, "train", tmp_path / "d.svm", tmp_path / "m")[0] == 0
    (tmp_path / "t.svm").write_text("1 1:1\n-01 1:-1\nx 1:2\n")
    status, out, _ = run(capsys, "predict", tmp_path / "t.svm", tmp_path / "m", tmp_path / "o")
    assert (status, out) == (0, "Accuracy = 66.6667% (2/3)\n")
    assert (tmp_path / "o").read_text() == "1\n-1\n1\n"


def test_csv(tmp_path, capsys, problem):
    X_train, y_train, X_test, y_test = problem
    write_csv(tmp_path / "train.csv", X_train, y_train)
    write_csv(tmp_path / "test.CSV", X_test, y_test)
    assert run(capsys, "train", "-s", "ovo", tmp_path / "train.csv", tmp_path / "m")[0] == 0
    est = LogisticRegression("ovo").fit(X_train, y_train)
    np.testing.assert_array_equal(multilogit.load(tmp_path / "m").coef_, est.coef_)

    status, out, _ = run(capsys, "predict", tmp_path / "test.CSV", tmp_path / "m", tmp_path / "o")
    predicted = est.predict(X_test)
    assert (status, out) == (0, accuracy_line(predicted, y_test))
    assert (tmp_path / "o").read_text().split() == [str(label) for label in predicted]


def test_npz_and_npy(tmp_path, capsys, problem):
    X_train, y_train, X_test, y_test = problem
    labels = np.array(["a", "b", "c", "d"])[np.searchsorted([-1, 1, 2, 7], y_train)]
    np.savez(tmp_path / "train.npz", X=X_train.astype(np.float32), y=labels)
    assert run(capsys, "train", tmp_path / "train.npz", tmp_path / "m")[0] == 0
    est = LogisticRegression().fit(X_train.astype(np.float32).astype(np.float64), labels)
    loaded = multilogit.load(tmp_path / "m")
    assert loaded.classes_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.coef_, est.coef_)

    # .npy: features only, so no accuracy; .npz without y likewise.
    np.save(tmp_path / "test.npy", X_test)
    np.savez(tmp_path / "test.npz", X=X_test)
    for name in ("test.npy", "test.npz"):
        status, out, err = run(capsys, "predict", tmp_path / name, tmp_path / "m", tmp_path / "o")
        assert (status, out, err) == (0, "", "")
        assert (tmp_path / "o").read_text().split() == est.predict(X_test).tolist()

    # Whole-number float labels are integers.
    np.savez(tmp_path / "float.npz", X=X_train, y=y_train.astype(np.float64))
    assert run(capsys, "train", tmp_path / "float.npz", tmp_path / "m")[0] == 0
    assert multilogit.load(tmp_path / "m").classes_.tolist() == [-1, 1, 2, 7]


def test_models_saved_by_the_estimator(tmp_path, capsys, problem):
    X_train, y_train, X_test, y_test = problem
    words = np.array(["one", "two", "three", "four"])[np.searchsorted([-1, 1, 2, 7], y_train)]
    est = LogisticRegression("ovr").fit(X_train.astype(np.float32), words)
    est.save(tmp_path / "m")
    write_svmlight(tmp_path / "test.svm", X_test, ["one"] * len(X_test))
    status, out, _ = run(
        capsys, "predict", "-p", tmp_path / "test.svm", tmp_path / "m", tmp_path / "o"
    )
    assert status == 0
    # float32 coefficients, predictions computed in float64 as for any float64 data.
    predicted = est.predict(X_test)
    assert out == accuracy_line(predicted, ["one"] * len(X_test))
    lines = (tmp_path / "o").read_text().splitlines()
    assert lines[0] == "labels four one three two"
    assert [line.split(" ")[0] for line in lines[1:]] == predicted.tolist()


def test_not_converged_is_reported(tmp_path, capsys, problem):
    X_train, y_train, _, _ = problem
    write_svmlight(tmp_path / "train.svm", X_train * 1e3, y_train)
    status, out, err = run(capsys, "train", "-e", "0", tmp_path / "train.svm", tmp_path / "m")
    assert status == 0
    assert out.endswith(", not converged\n")
    assert err.startswith("multilogit: warning: ") and "did not converge" in err


def test_help(capsys):
    for args in (["-h"], ["--help"], ["train", "-h"], ["predict", "-p", "--help"]):
        status, out, err = run(capsys, *args)
        assert (status, err) == (0, "")
        assert out.startswith("usage: multilogit train [-s softmax|ovr|ovo]")
        assert "-p            also write probabilities" in out and ".npz" in out


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing command: train or predict"),
        (["fit", "a", "b"], "unknown command 'fit' (train or predict)"),
        (["train", "-x", "1", "a", "b"], "unknown option '-x' for train"),
        (["train", "-c"], "option -c needs a value"),
        (["train", "-c", "abc", "a", "b"], "option -c needs a number, got 'abc'"),
        (["train", "-c", "0", "a", "b"], "C must be a positive float"),
        (["train", "-l", "1.5", "a", "b"], "l1_ratio must be in [0, 1]"),
        (["train", "-e", "-1", "a", "b"], "tol must be a non-negative finite float"),
        (["train", "-e", "nan", "a", "b"], "option -e needs a number, got 'nan'"),
        (["train", "-s", "ova", "a", "b"], "option -s must be softmax, ovr or ovo, got 'ova'"),
        (["train", "-t", "0", "a", "b"], "option -t needs a positive integer, got '0'"),
        (["train", "-i", "0", "a", "b"], "option -i needs a positive integer, got '0'"),
        (["train", "-i", "ten", "a", "b"], "option -i needs a positive integer, got 'ten'"),
        (["train", "-t", "1.5", "a", "b"], "option -t needs a positive integer, got '1.5'"),
        (["train", "a"], "train takes DATA MODEL, got 1 file argument(s)"),
        (["train", "a", "b", "-c", "2"], "train takes DATA MODEL, got 4 file argument(s)"),
        (["predict", "a", "b"], "predict takes DATA MODEL OUTPUT, got 2 file argument(s)"),
        (["predict", "-b", "1", "a", "b", "c"], "unknown option '-b' for predict"),
    ],
)
def test_usage_errors(capsys, args, message):
    status, out, err = run(capsys, *args)
    assert (status, out) == (2, "")
    first, usage = err.split("\n", 1)
    assert first.startswith(f"multilogit: {message}")
    assert usage.startswith("usage: multilogit train")


GOOD_SVMLIGHT = "1 1:0.5 2:1\n2 1:-1 3:2\n"


@pytest.mark.parametrize(
    "name, contents, message",
    [
        ("zero.svm", "1 1:1\n2 0:1 3:2\n", "{path}:2: '0:1': feature indices start at 1"),
        (
            "order.svm",
            "1 1:1\n2 3:1 2:2\n",
            "{path}:2: '2:2': feature indices must increase along a line (previous: 3)",
        ),
        ("twice.svm", "1 2:1 2:1\n", "{path}:1: '2:1': feature indices must increase"),
        ("value.svm", "1 1:abc\n", "{path}:1: '1:abc': the value is not a finite decimal number"),
        ("nan.svm", "1 1:1\n2 1:nan\n", "{path}:2: '1:nan': the value is not a finite decimal"),
        ("inf.svm", "1 1:1e400\n", "{path}:1: '1:1e400': the value is not a finite decimal"),
        ("hex.svm", "1 1:0x10\n", "{path}:1: '1:0x10': the value is not a finite decimal"),
        ("under.svm", "1 1:1_0\n", "{path}:1: '1:1_0': the value is not a finite decimal"),
        ("index.svm", "1 a:1\n", "{path}:1: 'a:1': the feature index is not a positive integer"),
        ("signed.svm", "1 +1:1\n", "{path}:1: '+1:1': the feature index is not a positive"),
        (
            "huge.svm",
            "1 3000000000:1\n",
            "{path}:1: '3000000000:1': feature index above 2147483647",
        ),
        ("colon.svm", "1 1:1 2\n", "{path}:1: '2': expected index:value"),
        ("label.svm", "1 1:1\n\n1:2 2:1\n", "{path}:3: the line starts with '1:2', not a label"),
        ("empty.svm", "# nothing\n\n", "{path}: no data rows"),
        ("nofeatures.svm", "1\n2\n", "{path}: no features (every row is empty)"),
        ("one.svm", "4 1:1\n4 2:1\n", "{path}: every row has label 4; training needs at least two"),
        (
            "header.csv",
            "y,a,b\n1,2,3\n",
            "{path}:1: column 2: 'a' is not a finite decimal number (CSV files have no header row)",
        ),
        ("ragged.csv", "1,2,3\n2,3\n", "{path}:2: 2 columns, but the first row has 3"),
        ("labelonly.csv", "1\n", "{path}:1: no feature columns"),
        ("nolabel.csv", " ,1\n", "{path}:1: the label (first column) is empty"),
        ("absent.svm", None, "cannot read {path}: No such file or directory"),
    ],
)
def test_bad_training_data(tmp_path, capsys, name, contents, message):
    path = tmp_path / name
    if contents is not None:
        path.write_text(contents)
    status, out, err = run(capsys, "train", path, tmp_path / "m")
    assert (status, out) == (1, "")
    assert err.startswith("multilogit: " + message.format(path=path)), err
    assert err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "m").exists()


def test_bad_numpy_files(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((3, 2)))
    np.save(tmp_path / "flat.npy", np.ones(3))
    np.savez(tmp_path / "noX.npz", features=np.ones((3, 2)))
    np.savez(tmp_path / "nan.npz", X=np.array([[1.0, np.nan]]), y=np.array([1]))
    np.savez(tmp_path / "ylen.npz", X=np.ones((3, 2)), y=np.array([1, 2]))
    np.savez(tmp_path / "yfloat.npz", X=np.ones((2, 2)), y=np.array([0.5, 1.0]))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    cases = {
        "x.npy": "x.npy: no labels (a .npy file holds features only)",
        "flat.npy": "flat.npy: the array must be a 2-D numeric array of features, got 1-D",
        "noX.npz": "noX.npz: no array 'X' (a .npz data file holds X and optionally y; it has "
        "features)",
        "nan.npz": "nan.npz: X holds NaN or infinite values",
        "ylen.npz": "ylen.npz: y must be 1-D with one label per row of X (3)",
        "yfloat.npz": "yfloat.npz: y has dtype float64; labels must be integers, strings or whole",
        "junk.npz": "junk.npz: not a valid .npz file",
    }
    for name, message in cases.items():
        status, _, err = run(capsys, "train", tmp_path / name, tmp_path / "m")
        assert status == 1 and err.startswith(f"multilogit: {tmp_path}/{message}"), err
        assert err.count("\n") == 1


def test_bad_predict_inputs(tmp_path, capsys):
    (tmp_path / "train.svm").write_text(GOOD_SVMLIGHT)
    assert run(capsys, "train", tmp_path / "train.svm", tmp_path / "m")[0] == 0
    (tmp_path / "wide.svm").write_text("1 1:1\n2 2:1 4:1\n")
    np.save(tmp_path / "wide.npy", np.ones((2, 4)))
    (tmp_path / "corrupt").write_bytes(bytearray(b"\x89MLOGIT\n") + bytes(40))
    cases = [
        (["wide.svm", "m"], f"{tmp_path}/wide.svm:2: '4:1': feature index above the model's 3"),
        (["wide.npy", "m"], "X has 4 features, but LogisticRegression is expecting 3 features"),
        (["train.svm", "train.svm"], f"{tmp_path}/train.svm: invalid model file: wrong magic"),
        (["train.svm", "corrupt"], f"{tmp_path}/corrupt: invalid model file: "),
        (["train.svm", "absent"], f"cannot read {tmp_path}/absent: No such file or directory"),
    ]
    for (data, model), message in cases:
        status, _, err = run(capsys, "predict", tmp_path / data, tmp_path / model, tmp_path / "o")
        assert status == 1 and err.startswith(f"multilogit: {message}"), err
        assert err.count("\n") == 1
    status, _, err = run(
        capsys, "predict", tmp_path / "train.svm", tmp_path / "m", tmp_path / "absent" / "o"
    )
    assert status == 1
    assert err == f"multilogit: cannot write {tmp_path}/absent/o: No such file or directory\n"


def installed_script():
    """The console script pip installed beside this interpreter, else the one on PATH."""
    name = "multilogit.exe" if os.name == "nt" else "multilogit"
    beside = pathlib.Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which("multilogit")


def test_console_script(tmp_path, problem):
    script = installed_script()
    assert script, "the multilogit console script is not installed"
    X_train, y_train, X_test, y_test = problem
    write_svmlight(tmp_path / "train.svm", X_train, y_train)
    write_svmlight(tmp_path / "test.svm", X_test, y_test)

    def call(*args):
        return subprocess.run([script, *map(str, args)], capture_output=True, text=True)

    trained = call("train", "-s", "ovr", tmp_path / "train.svm", tmp_path / "m")
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("ovr: 4 classes, 180 rows, 12 features; 4 problems, ")
    predicted = call("predict", tmp_path / "test.svm", tmp_path / "m", tmp_path / "o")
    est = LogisticRegression("ovr").fit(sp.csr_matrix(X_train), y_train)
    assert predicted.stdout == accuracy_line(est.predict(X_test), y_test)
    bad = call("train", "-c", "x", tmp_path / "train.svm", tmp_path / "m")
    assert bad.returncode == 2 and bad.stderr.startswith("multilogit: option -c needs a number")
    assert "Traceback" not in bad.stderr
