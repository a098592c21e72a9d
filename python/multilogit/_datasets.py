"""Data sets for the demo (``python -m multilogit``) and the benchmarks in ``benchmarks/``.

scikit-learn's bundled digits and a synthetic problem are always available. The real data sets
letter, pendigits and usps are read from the shared data folder that sits beside the repository
(``../shared/data``). It is found, in this order, through

1. the environment variable ``MULTILOGIT_DATA`` (the folder that holds ``letter/``,
   ``pendigits/``, ...), then
2. a ``shared/data`` folder in the current working directory or any of its parents, then
3. a ``shared/data`` folder beside any parent of this package (an editable install or a source
   checkout).

Nothing here is needed by the estimator itself, and the tests never depend on the shared folder.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "MULTILOGIT_DATA"

# Real data sets kept in the shared folder: name -> (train file, test file, n_features, note).
_SVMLIGHT_SETS = {
    "letter": ("letter.scale.bz2", "letter.scale.t.bz2", 16, "features already in [-1, 1]"),
    "pendigits": ("pendigits.bz2", "pendigits.t.bz2", 16, "standardised"),
}
# pendigits holds raw integers 0..100, so it is standardised like digits; letter is not.
_STANDARDISE = {"letter": False, "pendigits": True}

# usps: the 7291 training images of the USPS zip-code digits (the test images are not in the
# folder), values already in [-1, 1]; split like digits.
_USPS_FOLDER, _USPS_FILE = "usps_zipcode", "zip.train.gz"

DATASETS = ("digits", "synthetic", "letter", "pendigits", "usps")
SHARED_DATASETS = ("letter", "pendigits", "usps")


class DataUnavailable(RuntimeError):
    """A data set's files could not be found; the message says why."""


@dataclass(frozen=True)
class Dataset:
    """A train/evaluation split, float64 and C-contiguous, ready for any estimator."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    eval_split: str  # "test" (held out) or "train" (accuracy measured on the training data)
    note: str  # how the data were prepared, for the report

    @property
    def n_classes(self):
        return int(np.unique(self.y_train).shape[0])

    def describe(self):
        n_train, d = self.X_train.shape
        split = (
            f"{n_train} train / {self.X_eval.shape[0]} test"
            if self.eval_split == "test"
            else f"{n_train} samples (accuracy on the training data)"
        )
        return f"{self.name}: {split}, {d} features, {self.n_classes} classes; {self.note}"


def _candidate_dirs(extra_starts=()):
    starts = [Path.cwd(), *map(Path, extra_starts), Path(__file__).resolve().parent]
    seen = set()
    for start in starts:
        start = start.resolve()
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate not in seen:
                seen.add(candidate)
                yield candidate


def find_data_dir(extra_starts=()):
    """The shared data folder, or None when it cannot be found.

    ``MULTILOGIT_DATA``, when set, wins and is returned even if it does not exist, so that a typo
    is reported rather than silently replaced by another folder.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    for candidate in _candidate_dirs(extra_starts):
        if candidate.is_dir():
            return candidate
    return None


def data_dir_status(data_dir):
    """One line saying which shared data folder is used, or how to provide one."""
    if data_dir is None:
        return (
            f"shared data folder not found (no {DATA_ENV}, no shared/data above the working "
            f"directory or the package); {', '.join(SHARED_DATASETS)} are skipped. "
            f"Set {DATA_ENV}=/path/to/shared/data to use them."
        )
    if not Path(data_dir).is_dir():
        return (
            f"shared data folder {data_dir} does not exist; {', '.join(SHARED_DATASETS)} are "
            "skipped."
        )
    return f"shared data folder: {data_dir}"


def _standardise(X_train, X_eval):
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_eval)


def _finish(name, X_train, y_train, X_eval, y_eval, eval_split, note):
    as_x = lambda X: np.ascontiguousarray(X, dtype=np.float64)  # noqa: E731
    as_y = lambda y: np.asarray(y).astype(np.int64)  # noqa: E731  (svmlight labels are floats)
    return Dataset(name, as_x(X_train), as_y(y_train), as_x(X_eval), as_y(y_eval), eval_split, note)


def _stratified_split(X, y, test_size, random_state):
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)


def load_digits_split(test_size=0.25, random_state=0):
    """scikit-learn's digits (1797 x 64, 10 classes), split and standardised on the train part."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = _stratified_split(X, y, test_size, random_state)
    X_train, X_test = _standardise(X_train, X_test)
    return _finish(
        "digits", X_train, y_train, X_test, y_test, "test",
        f"sklearn load_digits, stratified {1 - test_size:.0%}/{test_size:.0%} split, standardised",
    )


def load_synthetic(n_samples=100_000, n_features=100, random_state=0):
    """make_classification(n_samples, n_features, n_informative=60, n_classes=10,
    n_clusters_per_class=1); all rows are used for training and for the reported accuracy."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples, n_features, n_informative=60, n_classes=10, n_clusters_per_class=1,
        random_state=random_state,
    )
    return _finish(
        "synthetic", X, y, X, y, "train",
        f"make_classification({n_samples}, {n_features}, n_informative=60, n_classes=10, "
        f"n_clusters_per_class=1, random_state={random_state})",
    )


def _check_files(paths):
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataUnavailable(f"missing {', '.join(missing)}")


def _check_data_dir(data_dir):
    if data_dir is None:
        raise DataUnavailable("the shared data folder was not found")
    if not Path(data_dir).is_dir():
        raise DataUnavailable(f"{data_dir} is not a folder")


def load_svmlight_set(name, data_dir):
    """letter or pendigits from the shared data folder: its own train and test files."""
    from sklearn.datasets import load_svmlight_files

    _check_data_dir(data_dir)
    train_file, test_file, n_features, note = _SVMLIGHT_SETS[name]
    paths = [Path(data_dir) / name / train_file, Path(data_dir) / name / test_file]
    _check_files(paths)
    # load_svmlight_files opens .bz2 files itself (by extension).
    X_train, y_train, X_test, y_test = load_svmlight_files(
        [str(p) for p in paths], n_features=n_features
    )
    X_train, X_test = X_train.toarray(), X_test.toarray()
    if _STANDARDISE[name]:
        X_train, X_test = _standardise(X_train, X_test)
    return _finish(
        name, X_train, y_train, X_test, y_test, "test",
        f"{paths[0].name} / {paths[1].name} from {Path(data_dir) / name}, {note}",
    )


def load_usps_split(data_dir, test_size=0.25, random_state=0):
    """USPS zip-code digits (7291 x 256, 10 classes) from the shared data folder, split like
    digits; the values are already in [-1, 1], so they are not rescaled."""
    _check_data_dir(data_dir)
    path = Path(data_dir) / _USPS_FOLDER / _USPS_FILE
    _check_files([path])
    table = np.loadtxt(path)  # one image a line: label, then 256 grey levels
    X, y = table[:, 1:], table[:, 0].astype(np.int64)
    X_train, X_test, y_train, y_test = _stratified_split(X, y, test_size, random_state)
    return _finish(
        "usps", X_train, y_train, X_test, y_test, "test",
        f"{path}, stratified {1 - test_size:.0%}/{test_size:.0%} split, values in [-1, 1]",
    )


def load_dataset(name, data_dir=None):
    """Load one of ``DATASETS`` by name; raises DataUnavailable for a missing shared data set."""
    if name == "digits":
        return load_digits_split()
    if name == "synthetic":
        return load_synthetic()
    if name in _SVMLIGHT_SETS:
        return load_svmlight_set(name, data_dir)
    if name == "usps":
        return load_usps_split(data_dir)
    raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
