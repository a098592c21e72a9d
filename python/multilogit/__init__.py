"""Multi-class logistic regression (softmax, one-vs-rest, one-vs-one) with a C++ core."""

from importlib.metadata import PackageNotFoundError, version

from ._backend import instruction_set
from ._estimator import LogisticRegression
from ._model_file import load
from ._objective import objective_value

try:
    __version__ = version("multilogit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["LogisticRegression", "instruction_set", "load", "objective_value", "__version__"]
