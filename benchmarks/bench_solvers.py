"""Time each solver of multilogit on the same problems, to choose what ``solver="auto"`` picks.

Every solver minimises the same objective, so they are compared by time to reach ``tol``
(default 1e-8, tight enough that the asymptotic speed of each method shows) and by the
objective they reach, which must agree. Fits of one problem are interleaved solver by solver
and repeated, and the best time is reported, so that load from other processes on the machine
affects every solver alike.

    python benchmarks/bench_solvers.py                              # synthetic, digits, letter
    python benchmarks/bench_solvers.py --datasets digits --repeat 1  # a few seconds

letter comes from the shared data folder (see multilogit._datasets); it is skipped, with a
note, when that folder is missing.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from multilogit import LogisticRegression, objective_value
from multilogit._datasets import DATASETS, DataUnavailable, find_data_dir, load_dataset

SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "auto")
STRATEGIES = ("softmax", "ovr", "ovo")
MAX_CHOLESKY_PARAMETERS = 4096  # newton-cholesky refuses larger problems


def parameters_per_problem(strategy, n_classes, n_features):
    units = n_classes if strategy == "softmax" and n_classes > 2 else 1
    return units * (n_features + 1)


def fit_once(X, y, strategy, solver, *, C, tol, max_iter, n_threads):
    model = LogisticRegression(
        strategy, C=C, tol=tol, max_iter=max_iter, solver=solver, n_threads=n_threads
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        elapsed = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    objective = objective_value(
        X, y, model.coef_, model.intercept_, classes=model.classes_, strategy=strategy, C=C
    )
    return elapsed, int(model.n_iter_.sum()), objective, converged


def bench(dataset, strategy, solvers, args):
    X, y = dataset.X_train, dataset.y_train
    p = parameters_per_problem(strategy, dataset.n_classes, X.shape[1])
    runnable = [s for s in solvers if s != "newton-cholesky" or p <= MAX_CHOLESKY_PARAMETERS]
    best = {}
    for _ in range(args.repeat):
        for solver in runnable:  # interleaved: each round times every solver once
            result = fit_once(
                X, y, strategy, solver, C=args.C, tol=args.tol, max_iter=args.max_iter,
                n_threads=args.threads,
            )
            if solver not in best or result[0] < best[solver][0]:
                best[solver] = result
    lowest = min(r[2] for r in best.values())
    rows = []
    for solver in runnable:
        elapsed, n_iter, objective, converged = best[solver]
        rows.append(
            f"| {dataset.name} | {strategy} | {p} | {solver} | {n_iter} | {elapsed:.3f} | "
            f"{objective:.12g} | {(objective - lowest) / abs(lowest):.1e} | "
            f"{'yes' if converged else 'no'} |"
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="synthetic,digits,letter")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--max-iter", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or find_data_dir()

    print(f"tol={args.tol:g}, C={args.C:g}, max_iter={args.max_iter}, best of {args.repeat}")
    print("p: parameters per optimisation problem; iterations summed over the problems;")
    print("objective summed over the problems, and its excess over the lowest of the solvers.\n")
    print("| data | strategy | p | solver | iterations | time (s) | objective | excess | converged |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
        try:
            dataset = load_dataset(name, data_dir)
        except DataUnavailable as error:
            print(f"| {name} | skipped: {error} |")
            continue
        for strategy in args.strategies.split(","):
            for row in bench(dataset, strategy, args.solvers.split(","), args):
                print(row, flush=True)


if __name__ == "__main__":
    main()
