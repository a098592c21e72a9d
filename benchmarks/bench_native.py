"""The portable wheel against a build compiled for this machine's CPU (-march=native).

The portable build compiles its hot kernels for several instruction sets and picks the best at
run time; this measures what that leaves on the table. Both wheels are built from this source
tree (isolated pip builds, so this takes a few minutes), unpacked side by side, and timed in
alternating fresh interpreters on the same data, so both see the same machine load.

    python benchmarks/bench_native.py                    # build both, time, print the table
    python benchmarks/bench_native.py --keep build/native-bench   # reuse the wheels next time
"""

from __future__ import annotations

import argparse
import json
import os
import site
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "portable": [],
    "native": ["-C", "cmake.define.CMAKE_CXX_FLAGS=-march=native"],
}

# Runs in a fresh interpreter whose sys.path starts with one unpacked wheel. Prints JSON:
# the instruction set and the best wall time of each task.
TIMING = r"""
import json, sys, time, warnings
import numpy as np
import multilogit
warnings.filterwarnings("ignore")
data = np.load(sys.argv[1])
X, y = data["X"], data["y"]
repeat, max_iter = int(sys.argv[2]), int(sys.argv[3])
def best(task):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return min(times)
out = {"instruction_set": multilogit.instruction_set(), "module": multilogit.__file__}
fitted = {}
iterations = {}
for dtype in ("float64", "float32"):
    Xd = X.astype(dtype)
    for strategy in ("softmax", "ovr", "ovo"):
        est = multilogit.LogisticRegression(strategy=strategy, solver="lbfgs", tol=1e-12,
                                            max_iter=max_iter)
        out[f"fit {strategy} {dtype}"] = best(lambda: est.fit(Xd, y))
        fitted[strategy, dtype] = est
        iterations[f"fit {strategy} {dtype}"] = int(est.n_iter_.sum())
    out[f"predict_proba softmax {dtype}"] = best(lambda: fitted["softmax", dtype].predict_proba(Xd))
out["iterations"] = iterations
json.dump(out, sys.stdout)
"""


def build_wheel(variant: str, wheel_dir: Path) -> Path:
    """Builds the variant's wheel from the source tree unless wheel_dir already holds one."""
    existing = sorted(wheel_dir.glob("multilogit-*.whl"))
    if existing:
        return existing[0]
    wheel_dir.mkdir(parents=True, exist_ok=True)
    print(f"building the {variant} wheel ...", file=sys.stderr, flush=True)
    # A build directory of its own: the project's default one may hold another configuration.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheel_dir),
         "-C", f"build-dir={wheel_dir.parent / 'build'}", *VARIANTS[variant]],
        check=True,
    )
    return sorted(wheel_dir.glob("multilogit-*.whl"))[0]


def unpack(wheel: Path, target: Path) -> Path:
    if not (target / "multilogit").is_dir():
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
    return target


def time_variant(package_dir: Path, data: Path, repeat: int, max_iter: int) -> dict:
    # -S: no site initialisation, so no .pth file (an editable install, say) can put another
    # multilogit first; the unpacked wheel leads the path, the environment's packages follow.
    path = os.pathsep.join([str(package_dir), *site.getsitepackages(), site.getusersitepackages()])
    result = subprocess.run(
        [sys.executable, "-S", "-c", TIMING, str(data), str(repeat), str(max_iter)],
        env=dict(os.environ, PYTHONPATH=path), capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000, help="rows of the generated set")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating runs of each variant; the best time counts")
    parser.add_argument("--repeat", type=int, default=2, help="timings per task and run")
    parser.add_argument("--max-iter", type=int, default=30,
                        help="L-BFGS iterations per problem (tol is 1e-12, so both do the same work)")
    parser.add_argument("--keep", type=Path, help="directory keeping the wheels between runs")
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)

    from sklearn.datasets import make_classification

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        packages = {
            variant: unpack(build_wheel(variant, work / variant / "wheel"), work / variant / "pkg")
            for variant in VARIANTS
        }
        X, y = make_classification(args.samples, 100, n_informative=60, n_classes=10,
                                   n_clusters_per_class=1, random_state=0)
        data = Path(tmp) / "data.npz"
        import numpy as np

        np.savez(data, X=X, y=y)
        best: dict[str, dict] = {}
        for round_ in range(args.rounds):
            for variant, package in packages.items():
                times = time_variant(package, data, args.repeat, args.max_iter)
                print(f"round {round_ + 1}, {variant}: {times['instruction_set']}",
                      file=sys.stderr, flush=True)
                kept = best.setdefault(variant, times)
                for task, seconds in times.items():
                    if isinstance(seconds, float):
                        kept[task] = min(kept[task], seconds)

    tasks = [task for task, value in best["portable"].items() if isinstance(value, float)]
    # Same work on both sides: L-BFGS takes one evaluation per iteration (bar line searches),
    # and a second-order solver's inner iterations could differ with the rounding.
    iterations = {variant: best[variant]["iterations"] for variant in VARIANTS}
    lines = [
        f"Portable wheel (kernels chosen at run time: {best['portable']['instruction_set']}) "
        f"against a -march=native build (kernels: {best['native']['instruction_set']}); "
        f"make_classification({args.samples}, 100), 10 classes, {args.max_iter} iterations per "
        f"fit (L-BFGS), best of {args.rounds} x {args.repeat}. Solver iterations, summed over the "
        f"problems, portable / native: "
        + ", ".join(f"{task.removeprefix('fit ')} {iterations['portable'][task]} / "
                    f"{iterations['native'][task]}" for task in iterations["portable"]) + ".",
        "",
        "| task | portable s | native s | portable / native |",
        "|---|---:|---:|---:|",
    ]
    for task in tasks:
        portable, native = best["portable"][task], best["native"][task]
        lines.append(f"| {task} | {portable:.3f} | {native:.3f} | {portable / native:.2f} |")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
