"""The benchmark's quick mode runs and its report has every expected row with numbers in it.

No timing is asserted: only that the measurements exist and are finite.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fit.py"

pytest.importorskip("psutil")
pytest.importorskip("threadpoolctl")
if not BENCHMARK.is_file():  # an installed-wheel test run without the source tree
    pytest.skip("benchmarks/bench_fit.py is not beside the tests", allow_module_level=True)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "report.md"
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--threads", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "ConvergenceWarning" not in completed.stderr
    return out.read_text()


def _table_rows(report, first_cell):
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in report.splitlines()
        if line.startswith(f"| {first_cell} |")
    ]


def _number(cell):
    return float(re.match(r"[-+0-9.e]+", cell).group(0))


def test_header_describes_the_machine_and_rates(quick_report):
    for text in ("- machine:", "- versions:", "- BLAS", "- multilogit kernels:",
                 "read bandwidth:", "GEMM float64"):
        assert text in quick_report


def test_time_to_target_rows(quick_report):
    rows = _table_rows(quick_report, "digits")
    by_key = {(row[1], row[2]): row for row in rows if len(row) == 10}
    for strategy in ("softmax", "ovr", "ovo"):
        row = by_key[(strategy, "scikit-learn")]
        optimum, caps, ours, theirs, ratio = row[3], row[4], row[5], row[6], row[7]
        assert _number(optimum) > 0
        assert all(int(cap) >= 1 for cap in caps.split(" / "))
        assert _number(ours) > 0 and _number(theirs) > 0
        assert _number(ratio) > 0
        memory_ours, memory_theirs = row[8].split(" / ")
        assert _number(memory_ours) >= 0 and _number(memory_theirs) >= 0
        accuracy_ours, accuracy_theirs = map(float, row[9].split(" / "))
        assert accuracy_ours > 0.9 and accuracy_theirs > 0.9
    if "scikit-learn-intelex is not available" not in quick_report:
        assert ("softmax", "scikit-learn-intelex") in by_key


def test_roofline_and_predict_proba_rows(quick_report):
    rows = _table_rows(quick_report, "digits")
    roofline = [row for row in rows if len(row) == 9]
    assert len(roofline) == 1
    per_evaluation, bound, ratio = roofline[0][4], roofline[0][7], roofline[0][8]
    assert _number(per_evaluation) > 0 and bound in ("memory", "compute") and _number(ratio) > 0
    proba = {row[1]: row for row in rows if len(row) == 6}
    assert set(proba) == {"softmax", "ovr", "ovo"}
    assert _number(proba["softmax"][5]) > 0
    assert proba["ovo"][4] == "no predict_proba"


def test_solver_comparison_times_every_solver():
    script = BENCHMARK.parent / "bench_solvers.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--datasets", "none", "--shapes", "600x5x3",
         "--strategies", "softmax,ovr", "--repeat", "1", "--min-seconds", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = _table_rows(completed.stdout, "600x5")
    assert [(row[1], row[3]) for row in rows] == [
        (strategy, solver)
        for strategy in ("softmax", "ovr")
        for solver in ("lbfgs", "newton-cg", "newton-cholesky", "auto")
    ]
    for row in rows:  # every solver reached the target: a cap, a time, a ratio to the fastest
        cap, seconds, ratio = int(row[4]), _number(row[5]), _number(row[6])
        assert cap >= 1 and seconds > 0 and ratio >= 1.0
    assert min(_number(row[6]) for row in rows if row[1] == "softmax") == 1.0
