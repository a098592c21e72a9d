"""The C++ program and the Python console script are interchangeable.

Each reads the models the other trains, and both write byte-identical OUTPUT files, print the
same accuracy and training summary, and refuse bad files with the same message. Run with the
C++ program's path in MULTILOGIT_CLI (after a plain CMake build, as .ci/run does):

    MULTILOGIT_CLI=build/cpp/cli/multilogit python -m pytest tests/cli -q
"""

import contextlib
import io
import os
import pathlib
import subprocess

import numpy as np
import pytest
from sklearn.datasets import make_classification

from multilogit import LogisticRegression
from multilogit._cli import main

STRATEGIES = ["softmax", "ovr", "ovo"]
DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cpp_cli():
    path = os.environ.get("MULTILOGIT_CLI")
    if not path:
        pytest.fail(
            "MULTILOGIT_CLI is not set: these tests need the C++ multilogit program, e.g. "
            "MULTILOGIT_CLI=build/cpp/cli/multilogit python -m pytest tests/cli"
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"MULTILOGIT_CLI={path!r} is not an executable file")
    return path


def run_python(*args):
    """The console script's main, in this process (faster than starting Python each time)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def programs(cpp_cli):
    """Each program as a function of its arguments returning (exit status, stdout, stderr)."""

    def run_cpp(*args):
        result = subprocess.run([cpp_cli, *map(str, args)], capture_output=True, text=True)
        return result.returncode, result.stdout, result.stderr

    return {"C++": run_cpp, "Python": run_python}


def write_svmlight(path, X, labels):
    with open(path, "w") as out:
        for row, label in zip(X, labels):
            fields = [f"{j + 1}:{value!r}" for j, value in enumerate(row.tolist()) if value != 0]
            out.write(" ".join([label, *fields]) + "\n")


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """A four-class problem in svmlight files; label 1 is written as 1 and as +1, and the test
    file's last feature columns are all zero, so its largest index is below the model's."""
    X, y = make_classification(
        n_samples=300, n_features=15, n_informative=8, n_classes=4, random_state=3
    )
    X[np.abs(X) < 0.4] = 0.0
    labels = np.array(["-1", "1", "2", "10"])[y].astype(object)
    labels[(y == 1) & (np.arange(300) % 2 == 0)] = "+1"
    X[200:, 12:] = 0.0
    folder = tmp_path_factory.mktemp("interchange")
    write_svmlight(folder / "train.svm", X[:200], labels[:200])
    write_svmlight(folder / "test.svm", X[200:], labels[200:])
    return folder / "train.svm", folder / "test.svm"


def predict_with_both(programs, model, data, folder):
    """predict (without and with -p) by each program: {(program, flag): (stdout, bytes)}."""
    results = {}
    for name, command in programs.items():
        for flag in ([], ["-p"]):
            output = folder / f"{name}{''.join(flag)}.out"
            status, out, err = command("predict", *flag, data, model, output)
            assert status == 0, f"{name} predict failed: {err}"
            results[name, tuple(flag)] = (out, output.read_bytes())
    return results


def assert_identical(results):
    for flag in ((), ("-p",)):
        cpp, python = results["C++", flag], results["Python", flag]
        assert cpp[0] == python[0], f"accuracy lines differ: {cpp[0]!r} vs {python[0]!r}"
        assert cpp[1] == python[1], f"OUTPUT files differ (predict {' '.join(flag)})"


@pytest.mark.parametrize("trainer", ["C++", "Python"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_model_from_either_program_predicts_the_same_in_both(
    programs, data_files, tmp_path, trainer, strategy
):
    train, test = data_files
    model = tmp_path / "model"
    status, out, err = programs[trainer]("train", "-s", strategy, "-c", "0.5", train, model)
    assert status == 0, err
    results = predict_with_both(programs, model, test, tmp_path)
    assert_identical(results)

    accuracy = results["C++", ()][0]
    assert accuracy.startswith("Accuracy = ") and accuracy.endswith("/100)\n")
    lines = results["C++", ("-p",)][1].decode().splitlines()
    assert lines[0] == "labels -1 1 2 10"
    assert len(lines) == 101 and all(len(line.split(" ")) == 5 for line in lines[1:])
    assert results["C++", ()][1].decode().split() == [line.split(" ")[0] for line in lines[1:]]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_both_programs_train_the_same_model(programs, data_files, tmp_path, strategy):
    train, _ = data_files
    runs = {}
    for name, command in programs.items():
        model = tmp_path / f"{name}.model"
        status, out, err = command("train", "-s", strategy, "-l", "0.5", train, model)
        assert status == 0, err
        runs[name] = (out, model.read_bytes())
    assert runs["C++"][0] == runs["Python"][0]  # the summary line
    assert runs["C++"][1] == runs["Python"][1], "the model files differ"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_models_saved_by_the_estimator(programs, data_files, tmp_path, dtype):
    _, test = data_files
    X, y = make_classification(n_samples=150, n_features=15, n_classes=3, n_informative=5,
                               random_state=1)
    words = np.array(["ant", "bee", "cow"])[y]
    LogisticRegression("ovo").fit(X.astype(dtype), words).save(tmp_path / "model")
    results = predict_with_both(programs, tmp_path / "model", test, tmp_path)
    assert_identical(results)
    assert results["C++", ()][0] == "Accuracy = 0% (0/100)\n"  # no test label is a word
    assert results["C++", ("-p",)][1].startswith(b"labels ant bee cow\n")


def test_string_labels_and_text_files(programs, tmp_path):
    for name, command in programs.items():
        status, _, err = command("train", DATA / "words.svm", tmp_path / f"{name}.model")
        assert status == 0, err
    assert (tmp_path / "C++.model").read_bytes() == (tmp_path / "Python.model").read_bytes()
    results = predict_with_both(programs, tmp_path / "C++.model", DATA / "words.svm", tmp_path)
    assert_identical(results)
    assert results["C++", ()][0] == "Accuracy = 100% (20/20)\n"


# Valid but unusual numbers, which both programs must read to the same doubles.
UNUSUAL_VALUES = ["+1.5", "-.25", "5.", "1E3", "2e-3", "1e-400", "4.9e-324", "007", "0.1e+2",
                  "123456789012345678901234567890", "0.30000000000000004"]


def test_unusual_numbers_are_read_alike(programs, tmp_path):
    lines = [f"{k % 2} 1:{value} 2:{k}" for k, value in enumerate(UNUSUAL_VALUES)]
    (tmp_path / "numbers.svm").write_text("\n".join(lines) + "\n")
    models = []
    for name, command in programs.items():
        status, _, err = command("train", "-c", "inf", tmp_path / "numbers.svm",
                             tmp_path / name)
        assert status == 0, err
        models.append((tmp_path / name).read_bytes())
    assert models[0] == models[1]


BAD_FILES = {
    "hex.svm": "1 1:0x1p3\n",
    "inf.svm": "1 1:inf\n",
    "overflow.svm": "1 1:1e999\n",
    "underscore.svm": "1 1:1_000\n",
    "space.svm": "1 1: 2\n",
    "signed_index.svm": "1 -1:2\n",
    "unicode_digit.svm": "1 \u0661:2\n",  # an Arabic-Indic one
    "nbsp.svm": "1 1:2\u00a02:3\n",  # no-break space is not a separator
    "huge_index.svm": "1 99999999999999999999999:1\n",
    "duplicate.svm": "1 1:1 1:2\n",
    "only_comments.svm": "# a\n   # b\n",
    "label_only.svm": "1\n2\n",
}


SHARED_BAD_FILES = sorted(p.name for p in (DATA / "bad").iterdir())  # also under ctest


@pytest.mark.parametrize("name", sorted(BAD_FILES) + SHARED_BAD_FILES)
def test_bad_files_are_refused_alike(programs, tmp_path, name):
    path = DATA / "bad" / name
    if name in BAD_FILES:
        path = tmp_path / name
        path.write_text(BAD_FILES[name], encoding="utf-8")
    results = {
        program: command("train", path, tmp_path / "model")
        for program, command in programs.items()
    }
    assert results["C++"] == results["Python"]
    status, out, err = results["C++"]
    assert status == 1 and out == "" and err.startswith(f"multilogit: {path}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["fit"],
        ["train", "-s", "ova", "a", "b"],
        ["train", "-c", "1e999", "a", "b"],
        ["train", "-t", "-2", "a", "b"],
        ["train", "-i", "1e3", "a", "b"],
        ["train", "-e"],
        ["train", "--", "-c"],
        ["predict", "-p", "a", "b"],
        ["predict", "-x", "a", "b", "c"],
    ],
)
def test_usage_errors_alike(programs, args):
    results = {program: command(*args) for program, command in programs.items()}
    assert results["C++"] == results["Python"]
    assert results["C++"][0] == 2


def test_help_alike(programs):
    cpp, python = (command("-h") for command in programs.values())
    assert cpp[0] == python[0] == 0
    # The Python program documents the extra formats it reads in a last paragraph.
    assert python[1].startswith(cpp[1]) and "CSV" in python[1][len(cpp[1]):]
