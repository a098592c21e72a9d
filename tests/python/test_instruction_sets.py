"""Every build of the compute kernels this CPU runs reaches the same model.

The kernels are compiled for several instruction sets and the best one is chosen at run time;
MULTILOGIT_ISA lowers the choice. Each choice runs in a fresh interpreter, since it is made once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import multilogit

LEVELS = ["generic", "avx2", "avx512"]

FIT = """
import json, sys
import numpy as np
from sklearn.datasets import make_classification
import multilogit
X, y = make_classification(3000, 30, n_informative=20, n_classes=5, n_clusters_per_class=1,
                           random_state=1)
out = {"instruction_set": multilogit.instruction_set()}
# float32 at a tol its gradients reach: below it the solvers stop on rounding, at points that
# differ along the objective's nearly flat directions (the redundant features) by more than
# the tolerances below, wherever they started their last steps.
TOL = {"float64": 1e-9, "float32": 1e-7}
for strategy in ("softmax", "ovr", "ovo"):
    for dtype in ("float64", "float32"):
        est = multilogit.LogisticRegression(strategy=strategy, tol=TOL[dtype], max_iter=1000)
        est.fit(X.astype(dtype), y)
        out[f"{strategy}-{dtype}"] = {
            "coef": est.coef_.astype(float).tolist(),
            "proba": est.predict_proba(X[:200].astype(dtype)).astype(float).tolist(),
        }
json.dump(out, sys.stdout)
"""


def run_with(level: str) -> dict:
    env = dict(os.environ, MULTILOGIT_ISA=level)
    result = subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    return {level: run_with(level) for level in LEVELS}


def test_choice_is_capped_by_the_environment_and_the_cpu(results):
    best = multilogit.instruction_set()
    assert best in LEVELS
    for level, result in results.items():
        expected = LEVELS[min(LEVELS.index(level), LEVELS.index(best))]
        assert result["instruction_set"] == expected


@pytest.mark.parametrize("strategy", ["softmax", "ovr", "ovo"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_instruction_set_reaches_the_same_model(results, strategy, dtype):
    # Different instruction sets round differently, so the fits agree to the solver's tolerance
    # (tighter for float64), not bit for bit.
    rtol = 1e-6 if dtype == "float64" else 2e-4
    reference = results["generic"][f"{strategy}-{dtype}"]
    for level in LEVELS[1:]:
        other = results[level][f"{strategy}-{dtype}"]
        coef, ref_coef = np.array(other["coef"]), np.array(reference["coef"])
        np.testing.assert_allclose(coef, ref_coef, rtol=rtol, atol=rtol * np.abs(ref_coef).max(),
                                   err_msg=level)
        np.testing.assert_allclose(other["proba"], reference["proba"], atol=rtol, err_msg=level)
