"""The ``multilogit`` console script: train and predict from the command line, LIBLINEAR style.

    multilogit train [-s softmax|ovr|ovo] [-c C] [-l l1_ratio] [-e tol] [-i max_iter] [-t threads] DATA MODEL
    multilogit predict [-p] DATA MODEL OUTPUT

It takes the same arguments as the C++ program (cpp/cli), reads svmlight files the same way,
and writes the same bytes: models either program trains are read by both, and ``predict`` writes
identical OUTPUT files from the same model and data. Beyond svmlight it reads CSV, ``.npy`` and
``.npz`` files (see ``_data_files``). Exit status: 0 on success, 1 when a file cannot be read,
written or used, 2 for a command line that cannot be run.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _model_file
from ._data_files import (
    DataFileError,
    class_labels,
    names_class,
    parse_decimal,
    parse_integer,
    read_data,
    read_file,
    write_file,
)
from ._estimator import LogisticRegression
from ._validation import STRATEGIES, check_params

USAGE = """\
usage: multilogit train [-s softmax|ovr|ovo] [-c C] [-l l1_ratio] [-e tol] [-i max_iter] [-t threads] DATA MODEL
       multilogit predict [-p] DATA MODEL OUTPUT
"""

_DEFAULT_TOL = LogisticRegression().tol
_DEFAULT_MAX_ITER = LogisticRegression().max_iter

HELP = (
    USAGE
    + f"""
Multi-class logistic regression.

train: fit a model to the labelled rows of DATA and save it to MODEL.
  -s strategy   softmax (default), ovr (one-vs-rest) or ovo (one-vs-one)
  -c C          inverse regularisation strength: a number > 0, or inf (default 1)
  -l l1_ratio   elastic-net mixing in [0, 1]: 0 is the L2 penalty, 1 the L1 (default 0)
  -e tol        stop when the gradient's max-norm is at most tol (default {_DEFAULT_TOL:g})
  -i max_iter   solver iterations per optimisation problem (default {_DEFAULT_MAX_ITER})
  -t threads    number of threads (default: all cores)

predict: write the label MODEL predicts for each row of DATA to OUTPUT, one per line,
and print the accuracy when DATA has labels.
  -p            also write probabilities: a first line "labels L1 L2 ...", then
                "label p1 p2 ..." for each row (LIBLINEAR's -b 1 format)

DATA is an svmlight/LIBSVM file: a line "label index:value ..." per row, indices
from 1. Integer labels (1, -1, +1) are stored as integers, other labels as text.
DATA may also be a CSV file (.csv: the label in the first column, no header row), a
.npy file (features only: predict without accuracy) or a .npz file (arrays X and,
optionally, y).
"""
)


class UsageError(Exception):
    """A command line that cannot be run; the message names the problem."""


@dataclass
class TrainArguments:
    data: str
    model: str
    estimator: dict[str, Any] = field(default_factory=dict)  # LogisticRegression parameters


@dataclass
class PredictArguments:
    data: str
    model: str
    output: str
    probabilities: bool = False


class _ArgumentList:
    """The arguments after the command: options first (each value as the next argument, "--"
    ends them), then the file arguments."""

    def __init__(self, args: list[str]):
        self._args = args
        self._at = 1  # after the command

    def next_option(self) -> str | None:
        if self._at == len(self._args):
            return None
        arg = self._args[self._at]
        if arg == "--":
            self._at += 1
            return None
        if len(arg) < 2 or not arg.startswith("-"):
            return None
        self._at += 1
        return arg

    def value_of(self, option: str) -> str:
        if self._at == len(self._args):
            raise UsageError(f"option {option} needs a value")
        self._at += 1
        return self._args[self._at - 1]

    def files(self, command: str, names: list[str]) -> list[str]:
        files = self._args[self._at :]
        if len(files) != len(names):
            raise UsageError(
                f"{command} takes {' '.join(names)}, got {len(files)} file argument(s)"
            )
        return files


def _number_option(option: str, value: str, allow_inf: bool) -> float:
    if allow_inf and value == "inf":
        return float("inf")
    number = parse_decimal(value.encode("utf-8", "surrogateescape"))
    if number is None:
        raise UsageError(f"option {option} needs a number, got '{value}'")
    return number


def _positive_integer_option(option: str, value: str) -> int:
    number = parse_integer(value.encode("utf-8", "surrogateescape"))
    if number is None or not 1 <= number <= 2**31 - 1:
        raise UsageError(f"option {option} needs a positive integer, got '{value}'")
    return number


def _strategy_option(value: str) -> str:
    if value not in STRATEGIES:
        raise UsageError(f"option -s must be softmax, ovr or ovo, got '{value}'")
    return value


def _parse_train(args: list[str]) -> TrainArguments | None:
    params: dict[str, Any] = {}
    options = _ArgumentList(args)
    while (option := options.next_option()) is not None:
        if option in ("-h", "--help"):
            return None
        if option == "-s":
            params["strategy"] = _strategy_option(options.value_of(option))
        elif option == "-c":
            params["C"] = _number_option(option, options.value_of(option), allow_inf=True)
        elif option == "-l":
            params["l1_ratio"] = _number_option(option, options.value_of(option), allow_inf=False)
        elif option == "-e":
            params["tol"] = _number_option(option, options.value_of(option), allow_inf=False)
        elif option == "-t":
            params["n_threads"] = _positive_integer_option(option, options.value_of(option))
        elif option == "-i":
            params["max_iter"] = _positive_integer_option(option, options.value_of(option))
        else:
            raise UsageError(f"unknown option '{option}' for train")
    try:
        check_params(LogisticRegression(**params))
    except ValueError as error:
        raise UsageError(str(error)) from None
    data, model = options.files("train", ["DATA", "MODEL"])
    return TrainArguments(data, model, params)


def _parse_predict(args: list[str]) -> PredictArguments | None:
    probabilities = False
    options = _ArgumentList(args)
    while (option := options.next_option()) is not None:
        if option in ("-h", "--help"):
            return None
        if option == "-p":
            probabilities = True
        else:
            raise UsageError(f"unknown option '{option}' for predict")
    data, model, output = options.files("predict", ["DATA", "MODEL", "OUTPUT"])
    return PredictArguments(data, model, output, probabilities)


def parse_arguments(args: list[str]) -> TrainArguments | PredictArguments | None:
    """The command to run, or None when help was asked for. Raises UsageError."""
    if not args:
        raise UsageError("missing command: train or predict")
    if args[0] in ("-h", "--help"):
        return None
    if args[0] == "train":
        return _parse_train(args)
    if args[0] == "predict":
        return _parse_predict(args)
    raise UsageError(f"unknown command '{args[0]}' (train or predict)")


def train(arguments: TrainArguments) -> int:
    data = read_data(arguments.data)
    if data.labels is None:
        raise DataFileError(
            f"{arguments.data}: no labels (a .npy file holds features only); training needs "
            "an svmlight, CSV or .npz file with y"
        )
    if data.n_features == 0:
        raise DataFileError(f"{arguments.data}: no features (every row is empty)")
    y = class_labels(data.labels)
    if np.unique(y).shape[0] < 2:
        raise DataFileError(
            f"{arguments.data}: every row has label {data.labels[0]}; training needs at least "
            "two classes"
        )
    estimator = LogisticRegression(**arguments.estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(data.X, y)
    write_file(arguments.model, _model_file.to_bytes(estimator))

    not_converged = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    print(_summary(estimator, data.X.shape[0], converged=not not_converged))
    for warning in not_converged:
        print(f"multilogit: warning: {warning.message}", file=sys.stderr)
    return 0


def _summary(estimator: LogisticRegression, n_rows: int, converged: bool) -> str:
    """The line the C++ program prints too, e.g.
    "softmax: 3 classes, 200 rows, 20 features; 37 iterations, converged"."""
    n_iter = estimator.n_iter_
    fewest, most = n_iter.min(), n_iter.max()
    iterations = f"{most} iterations"
    if n_iter.shape[0] > 1:
        spread = f"{iterations} each" if fewest == most else f"{fewest}-{iterations}"
        iterations = f"{n_iter.shape[0]} problems, {spread}"
    return (
        f"{estimator._fitted_strategy}: {estimator.classes_.shape[0]} classes, {n_rows} rows, "
        f"{estimator.n_features_in_} features; {iterations}, "
        f"{'converged' if converged else 'not converged'}"
    )


def predict(arguments: PredictArguments) -> int:
    model_bytes = read_file(arguments.model)
    try:
        estimator = _model_file.from_bytes(model_bytes)
    except ValueError as error:
        raise DataFileError(f"{arguments.model}: {error}") from None
    data = read_data(arguments.data, max_features=estimator.n_features_in_)
    with warnings.catch_warnings():
        # A model fitted on a data frame remembers its column names, which files do not have.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        predicted = estimator.predict(data.X)
        probabilities = estimator.predict_proba(data.X) if arguments.probabilities else None
    write_file(arguments.output, _prediction_lines(estimator.classes_, predicted, probabilities))

    if data.labels is not None:
        correct = sum(names_class(p, t) for p, t in zip(predicted.tolist(), data.labels))
        total = len(data.labels)
        # LIBLINEAR's line, computed as LIBLINEAR (and the C++ program) computes it.
        print(f"Accuracy = {correct / total * 100:g}% ({correct}/{total})")
    return 0


def _prediction_lines(classes: Any, predicted: Any, probabilities: Any) -> bytes:
    """One line per row: the label, then with probabilities each class's probability with 17
    significant digits, byte for byte what the C++ program writes."""
    lines = []
    if probabilities is not None:
        lines.append(" ".join(["labels", *map(str, classes.tolist())]))
        for label, row in zip(predicted.tolist(), probabilities.tolist()):
            lines.append(" ".join([str(label), *("%.17g" % p for p in row)]))
    else:
        lines = [str(label) for label in predicted.tolist()]
    return "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        command = parse_arguments(args)
        if command is None:
            print(HELP, end="")
            return 0
        if isinstance(command, TrainArguments):
            return train(command)
        return predict(command)
    except UsageError as error:
        print(f"multilogit: {error}\n{USAGE}", end="", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, MemoryError) as error:
        print(f"multilogit: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
