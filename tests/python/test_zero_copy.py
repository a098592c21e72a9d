"""float32/float64 arrays in C or Fortran order are read in place, never copied.

The memory test fits on a large array in a fresh interpreter and compares the peak resident set
size during fit and predict with the resident size just before, after X was allocated and filled.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from multilogit import LogisticRegression
from multilogit._validation import validate_prediction_data, validate_training_data

ARRAY_BYTES = 400 * 2**20
N_FEATURES = 500
MAX_GROWTH = 0.10  # of the array's size

SCRIPT = textwrap.dedent(
    r"""
    import json, resource, sys, warnings
    import numpy as np
    from multilogit import LogisticRegression

    order, dtype_name, read_only, n_rows, n_features = sys.argv[1:6]
    dtype = np.dtype(dtype_name)
    n_rows, n_features = int(n_rows), int(n_features)
    warnings.simplefilter("ignore")  # max_iter is tiny on purpose
    strategies = ["softmax", "ovr", "ovo"]

    def current_rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def reset_peak_rss():
        # The peak rusage reports survives exec: started from a big pytest process, this one
        # would inherit that process's peak. Linux resets it to the current size on request.
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def peak_rss():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB

    # Warm up every code path on a small problem (lazy imports, thread pool, allocator arenas).
    rng = np.random.default_rng(0)
    small = rng.standard_normal((500, n_features)).astype(dtype)
    for strategy in strategies:
        m = LogisticRegression(strategy, max_iter=2).fit(small, np.arange(500) % 3)
        m.predict_proba(small)
    del small, m

    # Fill X in place, without a temporary: a Fortran array's transpose is C-ordered.
    X = np.empty((n_rows, n_features), dtype=dtype, order=order)
    rng.standard_normal(out=X if order == "C" else X.T, dtype=dtype)
    y = (X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0.5)  # three classes
    if read_only == "1":
        X.flags.writeable = False

    baseline = current_rss()
    reset_peak_rss()
    result = {"nbytes": X.nbytes, "growth": {}}
    for strategy in strategies:
        model = LogisticRegression(strategy, max_iter=3).fit(X, y)
        result["growth"][strategy + " fit"] = peak_rss() - baseline
        model.predict_proba(X)
        model.predict(X)
        model.decision_function(X)
        result["growth"][strategy + " predict"] = peak_rss() - baseline
    print(json.dumps(result))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.parametrize(
    "order, dtype, read_only",
    [
        ("C", "float64", False),
        ("F", "float64", False),
        ("C", "float32", True),
        ("F", "float32", False),
    ],
)
def test_fit_and_predict_do_not_copy_large_X(order, dtype, read_only):
    n_rows = -(-ARRAY_BYTES // (N_FEATURES * np.dtype(dtype).itemsize))  # rounded up
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, order, dtype, str(int(read_only)), str(n_rows),
         str(N_FEATURES)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["nbytes"] >= ARRAY_BYTES
    print(order, dtype, {k: f"{v / 2**20:.1f} MiB" for k, v in result["growth"].items()})
    limit = MAX_GROWTH * result["nbytes"]
    for step, growth in result["growth"].items():
        assert growth < limit, (
            f"{step}: peak memory grew by {growth / 2**20:.0f} MiB for a "
            f"{result['nbytes'] / 2**20:.0f} MiB {order}-ordered {dtype} X (limit "
            f"{limit / 2**20:.0f} MiB): X was probably copied"
        )


# -------------------------------------------------------------------- conversion rules, in process


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    return LogisticRegression().fit(X, np.arange(60) % 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("writeable", [True, False])
def test_contiguous_float_arrays_pass_through(fitted, dtype, order, writeable):
    X = np.asarray(np.random.default_rng(1).standard_normal((40, 5)), dtype=dtype, order=order)
    X.flags.writeable = writeable
    checked = validate_prediction_data(fitted, X)
    assert checked is X or (np.shares_memory(checked, X) and checked.dtype == dtype)
    checked, _ = validate_training_data(LogisticRegression(), X, np.arange(40) % 3)
    assert np.shares_memory(checked, X) and checked.dtype == dtype


def test_strided_view_is_copied_once_into_C_order(fitted):
    base = np.random.default_rng(2).standard_normal((40, 10))
    X = base[:, ::2]
    checked = validate_prediction_data(fitted, X)
    assert checked.flags.c_contiguous
    assert not np.shares_memory(checked, base)
    np.testing.assert_array_equal(checked, X)
    np.testing.assert_array_equal(fitted.predict(X), fitted.predict(checked))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float16, object])
def test_other_dtypes_become_float64(fitted, dtype):
    X = np.arange(40 * 5).reshape(40, 5).astype(dtype)
    checked = validate_prediction_data(fitted, X)
    assert checked.dtype == np.float64
    assert checked.flags.c_contiguous or checked.flags.f_contiguous
    assert fitted.predict(X).shape == (40,)


def test_float32_model_predicts_float64_data_and_back():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    model32 = LogisticRegression(max_iter=1000).fit(X.astype(np.float32), y)
    assert model32.coef_.dtype == np.float32
    proba64 = model32.predict_proba(X)
    assert proba64.dtype == np.float64
    np.testing.assert_allclose(proba64, model32.predict_proba(X.astype(np.float32)), atol=1e-5)
