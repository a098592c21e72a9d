"""Demo: ``python -m multilogit``.

Fits the three strategies (softmax, one-vs-rest, one-vs-one) on scikit-learn's digits and, when
the shared data folder is found, on letter and pendigits, each beside its scikit-learn
equivalent with the same C, tol and max_iter. Prints fit time, test accuracy and the training
objective each reached (lower is better; equal values mean both found the same optimum).

The shared data folder is taken from MULTILOGIT_DATA, or found as ``shared/data`` above the
working directory or the package (see ``multilogit._datasets``).
"""

import argparse
import os
import sys
import time

from . import __version__
from ._comparison import (
    add_comparison_arguments,
    compare,
    split_comparison_arguments,
)
from ._datasets import (
    SHARED_DATASETS,
    DataUnavailable,
    data_dir_status,
    find_data_dir,
    load_dataset,
)

DEMO_DATASETS = ("digits", "letter", "pendigits")

_COLUMNS = (  # header, width, alignment
    ("strategy", 8, "<"),
    ("implementation", 33, "<"),
    ("fit time", 9, ">"),
    ("speed-up", 8, ">"),
    ("test acc", 8, ">"),
    ("objective", 13, ">"),
    ("iters", 7, ">"),
)


def _row(cells):
    return "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, _COLUMNS))


def _record_cells(strategy, record, speedup):
    iters = f"{record.n_iter}{'*' if record.n_not_converged else ''}"
    return (
        strategy,
        record.implementation,
        f"{record.seconds:.3f} s",
        speedup,
        f"{record.accuracy:.4f}",
        f"{record.objective:.9g}",
        iters,
    )


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m multilogit",
        description="Fit softmax, one-vs-rest and one-vs-one logistic regression with multilogit "
        "and scikit-learn side by side on real data sets.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="digits only (a few seconds)"
    )
    add_comparison_arguments(parser, datasets=DEMO_DATASETS, repeat=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets = "digits"
    return split_comparison_arguments(parser, args)


def main(argv=None):
    args = _parse_args(argv)
    import sklearn

    threads = "all cores" if args.threads is None else str(args.threads)
    print(f"multilogit {__version__} beside scikit-learn {sklearn.__version__}")
    print(
        f"C={args.C:g}  tol={args.tol:g}  max_iter={args.max_iter}  threads={threads} "
        f"(machine: {os.cpu_count()} cores)  fit time: best of {args.repeat}"
    )
    data_dir = args.data_dir or find_data_dir()
    if any(name in SHARED_DATASETS for name in args.datasets):
        print(data_dir_status(data_dir))

    started = time.perf_counter()
    any_not_converged = False
    for name in args.datasets:
        print()
        try:
            dataset = load_dataset(name, data_dir)
        except DataUnavailable as missing:
            print(f"{name}: skipped ({missing})")
            continue
        print(dataset.describe())
        print(_row([header for header, _, _ in _COLUMNS]))
        print(_row(["-" * width for _, width, _ in _COLUMNS]))
        for strategy in args.strategies:
            ours, theirs = compare(
                dataset, strategy, C=args.C, tol=args.tol, max_iter=args.max_iter,
                n_threads=args.threads, repeat=args.repeat,
            )
            speedup = f"{theirs.seconds / ours.seconds:.1f}x" if ours.seconds > 0 else "-"
            print(_row(_record_cells(strategy, ours, speedup)))
            print(_row(_record_cells("", theirs, "")))
            any_not_converged |= bool(ours.n_not_converged or theirs.n_not_converged)
            sys.stdout.flush()

    print()
    if any_not_converged:
        print(
            "* a ConvergenceWarning was raised: some problem stopped at max_iter or stalled "
            "before tol."
        )
    print(
        "speed-up: scikit-learn fit time / multilogit fit time. objective: the training "
        "objective (summed over sub-problems for ovr/ovo) at the fitted coefficients; lower is "
        f"better. accuracy on held-out test data. Total {time.perf_counter() - started:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
