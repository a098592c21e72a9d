"""Time each solver of multilogit to the same objective, to choose what ``solver="auto"`` picks.

Every solver minimises the same objective, so they are compared as bench_fit.py compares
libraries: the optimum is the lowest objective of fits of every solver at a tight ``tol``
(``--reference-tol``, 1e-10), and each solver is timed at the smallest ``max_iter`` on a
geometric grid whose fit gets within ``--rtol`` (1e-6) of it (time_to_target.py; fits at
``tol=1e-8``, best of ``--repeat``, or of more while they took less than ``--min-seconds``).
``auto`` is timed too, so the table shows what the rule costs against the best solver.

    python benchmarks/bench_solvers.py                                  # the four data sets
    python benchmarks/bench_solvers.py --datasets digits --repeat 1 --min-seconds 0   # seconds
    python benchmarks/bench_solvers.py --datasets none --shapes 100000x40x10 --strategies ovr

``--shapes NxDxK`` adds make_classification(N, D, n_informative=0.6 D, n_redundant=0,
n_classes=K, n_clusters_per_class=1, random_state=0) data sets. Shared data sets are skipped,
with a note, when the shared data folder is missing.
"""

import argparse
import sys
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

from multilogit import LogisticRegression
from multilogit._comparison import fitted_objective, iterations_per_problem
from multilogit._datasets import DataUnavailable, _finish, find_data_dir, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contenders import MULTILOGIT  # noqa: E402
from time_to_target import (  # noqa: E402
    MAX_REPEAT,
    MIN_TIMED_SECONDS,
    START_FRACTION,
    Contender,
    time_to_target,
)

SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "auto")
STRATEGIES = ("softmax", "ovr", "ovo")
MAX_CHOLESKY_PARAMETERS = 4096  # newton-cholesky refuses larger problems


def parameters_per_problem(strategy, n_classes, n_features):
    units = n_classes if strategy == "softmax" and n_classes > 2 else 1
    return units * (n_features + 1)


def generated(shape):
    from sklearn.datasets import make_classification

    n, d, k = (int(part) for part in shape.lower().split("x"))
    X, y = make_classification(
        n, d, n_informative=max(2, int(0.6 * d)), n_redundant=0, n_classes=k,
        n_clusters_per_class=1, random_state=0,
    )
    return _finish(f"{n}x{d}", X, y, X, y, "train", f"make_classification, shape {shape}")


def contender(solver, strategy, X, args):
    return Contender(
        solver,
        lambda tol, max_iter: LogisticRegression(
            strategy, C=args.C, tol=tol, max_iter=max_iter, solver=solver, n_threads=args.threads
        ),
        X,
        MULTILOGIT,
    )


def reference_fit(dataset, strategy, solver, args):
    """(objective, largest iteration count of its problems) of a fit at the reference tol."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = contender(solver, strategy, dataset.X_train, args).make(args.reference_tol, 10_000)
        model.fit(dataset.X_train, dataset.y_train)
    objective = fitted_objective(model, dataset.X_train, dataset.y_train, strategy, args.C)
    return objective, int(iterations_per_problem(model).max())


def bench(dataset, strategy, solvers, args):
    p = parameters_per_problem(strategy, dataset.n_classes, dataset.X_train.shape[1])
    runnable = [s for s in solvers if s != "newton-cholesky" or p <= MAX_CHOLESKY_PARAMETERS]
    references = {s: reference_fit(dataset, strategy, s, args) for s in runnable}
    optimum = min(objective for objective, _ in references.values())
    threshold = optimum + args.rtol * abs(optimum)
    times = {}
    for solver in runnable:
        result = time_to_target(
            contender(solver, strategy, dataset.X_train, args), dataset, strategy, C=args.C,
            tol=1e-8, threshold=threshold, start=round(START_FRACTION * references[solver][1]),
            limit=args.max_iter, repeat=args.repeat, min_seconds=args.min_seconds,
        )
        times[solver] = (result.best.seconds, result.cap) if result.reached else None
    fastest = min(t[0] for t in times.values() if t)
    rows = []
    for solver in runnable:
        if times[solver] is None:
            cells = "not reached | – | –"
        else:
            seconds, cap = times[solver]
            cells = f"{cap} | {seconds:.4f} | {seconds / fastest:.2f}"
        rows.append(f"| {dataset.name} | {strategy} | {p} | {solver} | {cells} |")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="synthetic,digits,letter,usps",
                        help="comma-separated names, or 'none'")
    parser.add_argument("--shapes", default="", help="comma-separated NxDxK generated sets")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=MIN_TIMED_SECONDS,
                        help=f"fits quicker than this in all are repeated, up to {MAX_REPEAT} "
                        "times (default: %(default)s; 0: exactly --repeat fits)")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--reference-tol", type=float, default=1e-10)
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    datasets = []
    for name in filter(None, args.datasets.split(",")):
        if name == "none":
            continue
        try:
            datasets.append(load_dataset(name, args.data_dir or find_data_dir()))
        except DataUnavailable as error:
            print(f"{name}: skipped ({error})")
    datasets += [generated(shape) for shape in filter(None, args.shapes.split(","))]

    print(f"target: the lowest objective of the solvers' fits at tol={args.reference_tol:g}, "
          f"plus {args.rtol:g} relative; C={args.C:g}; fits at tol=1e-8, best of {args.repeat}"
          + (f" or more, until they took {args.min_seconds:g} s" if args.min_seconds > 0 else ""))
    print("p: parameters per optimisation problem; max_iter: the smallest cap reaching the "
          "target; ratio: time over the fastest solver's.\n")
    print("| data | strategy | p | solver | max_iter | time (s) | ratio |")
    print("|---|---|---|---|---:|---:|---:|")
    for dataset in datasets:
        for strategy in args.strategies.split(","):
            for row in bench(dataset, strategy, args.solvers.split(","), args):
                print(row, flush=True)


if __name__ == "__main__":
    main()
