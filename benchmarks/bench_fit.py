"""Fit time of each multilogit strategy against its scikit-learn equivalent, in one process.

    python benchmarks/bench_fit.py [--datasets digits,synthetic,letter] [--repeat 3]
                                   [--tol 1e-4] [--max-iter 100] [--threads N] [--out FILE.md]

Prints a markdown table: per data set and strategy, the best fit time of each over --repeat
runs, the speed ratio (scikit-learn time / multilogit time), the training objective each reached
and the accuracy of each. See benchmarks/README.md.
"""

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np
import sklearn

import multilogit
from multilogit._comparison import (
    add_comparison_arguments,
    compare,
    split_comparison_arguments,
)
from multilogit._datasets import (
    DataUnavailable,
    data_dir_status,
    find_data_dir,
    load_dataset,
    load_synthetic,
)

DEFAULT_DATASETS = ("digits", "synthetic", "letter")
HERE = os.path.dirname(os.path.abspath(__file__))


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_comparison_arguments(parser, datasets=DEFAULT_DATASETS, repeat=3)
    parser.add_argument(
        "--synthetic-samples", type=int, default=100_000, help="rows of the synthetic problem"
    )
    parser.add_argument("--out", default=None, help="also write the markdown report to this file")
    return split_comparison_arguments(parser, parser.parse_args(argv))


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _source_revision():
    # The commit of the checkout this script sits in, when it is one (results depend on it).
    import subprocess

    try:
        rev = subprocess.run(
            ["git", "-C", HERE, "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" (git {rev})" if rev else ""


def _blas_description():
    from threadpoolctl import threadpool_info

    pools = [f"{p['internal_api']} ({p['num_threads']} threads)" for p in threadpool_info()]
    return ", ".join(pools) or "none detected"


def _header(args):
    threads = "all cores" if args.threads is None else str(args.threads)
    return [
        "# multilogit fit benchmark",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {_cpu_name()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        f"- versions: multilogit {multilogit.__version__}{_source_revision()}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}; BLAS: {_blas_description()}",
        f"- settings: C={args.C:g}, tol={args.tol:g}, max_iter={args.max_iter}, "
        f"threads={threads}, best of {args.repeat} fit(s), float64 data",
        "",
    ]


_TABLE_HEADER = [
    "| dataset | strategy | multilogit (s) | sklearn (s) | speed ratio | objective multilogit "
    "| objective sklearn | iterations ml / sk | accuracy ml / sk |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
]


def _table_row(dataset, ours, theirs):
    def iters(record):
        return f"{record.n_iter}{'*' if record.n_not_converged else ''}"

    ratio = theirs.seconds / ours.seconds if ours.seconds > 0 else float("nan")
    return (
        f"| {dataset.name} | {ours.strategy} | {ours.seconds:.3f} | {theirs.seconds:.3f} "
        f"| {ratio:.2f}x | {ours.objective:#.8g} | {theirs.objective:#.8g} "
        f"| {iters(ours)} / {iters(theirs)} "
        f"| {ours.accuracy:.4f} / {theirs.accuracy:.4f} ({dataset.eval_split}) |"
    )


def main(argv=None):
    args = _parse_args(argv)
    data_dir = args.data_dir or find_data_dir(extra_starts=[HERE])
    started = time.perf_counter()
    out = open(args.out, "w") if args.out else None

    def emit(line=""):
        # The report goes to stdout line by line (rows appear as they are measured) and to --out.
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    for line in _header(args):
        emit(line)
    notes, datasets = [], []
    if any(name in ("letter", "pendigits") for name in args.datasets):
        notes.append(data_dir_status(data_dir))
    for name in args.datasets:
        try:
            if name == "synthetic":
                dataset = load_synthetic(n_samples=args.synthetic_samples)
            else:
                dataset = load_dataset(name, data_dir)
        except DataUnavailable as missing:
            notes.append(f"{name}: skipped ({missing})")
            continue
        datasets.append(dataset)

    emit("## Data sets")
    emit()
    for line in [d.describe() for d in datasets] + notes:
        emit(f"- {line}")
    emit()
    emit("## Fit times")
    emit()
    for line in _TABLE_HEADER:
        emit(line)
    for dataset in datasets:
        for strategy in args.strategies:
            ours, theirs = compare(
                dataset, strategy, C=args.C, tol=args.tol, max_iter=args.max_iter,
                n_threads=args.threads, repeat=args.repeat,
            )
            emit(_table_row(dataset, ours, theirs))
    emit()
    emit(
        "speed ratio = sklearn time / multilogit time (above 1: multilogit is faster). "
        "Objective: the training objective at the fitted coefficients "
        "(multilogit.objective_value, summed over sub-problems for ovr/ovo); lower is better. "
        "Iterations are summed over sub-problems; * marks fits that raised a ConvergenceWarning "
        "(some problem stopped at max_iter or stalled before tol). Accuracy on held-out test "
        "data (test) or on the training data (train)."
    )
    emit()
    emit(f"Total benchmark time: {time.perf_counter() - started:.1f} s.")
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
