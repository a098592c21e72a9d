"""multilogit beside scikit-learn (and scikit-learn-intelex when installed), in one process.

    python benchmarks/bench_fit.py            # full run: writes results.md and results.png here
    python benchmarks/bench_fit.py --quick    # digits only, a few seconds, report on stdout

Per data set and strategy: the time each library takes to reach the same training objective,
their ratio and extra peak memory; then multilogit's time per evaluation against the roofline
(memory bandwidth and GEMM rate measured in the same run), float32 against float64, the per-row
cost at growing row counts and predict_proba times. See benchmarks/README.md for the protocol.
"""

import argparse
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import sklearn

import multilogit
from multilogit._comparison import add_comparison_arguments, split_comparison_arguments
from multilogit._datasets import (
    SHARED_DATASETS,
    DataUnavailable,
    data_dir_status,
    find_data_dir,
    load_dataset,
    load_synthetic,
)

import machine
import report
from contenders import (
    MULTILOGIT,
    multilogit_contender,
    peer_contenders,
    sklearnex_status,
)
from per_evaluation import (
    better_of,
    measure_evaluation_costs,
    per_row_spread,
    with_roofline,
)
from time_to_target import (
    MAX_REPEAT,
    MIN_TIMED_SECONDS,
    SETTLE_SECONDS,
    after_other_work,
    fit_once,
    retimed_in_turn,
    settle_before_every_fit,
    start_from_reference,
    target_objective,
    time_to_target,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = ("digits", "synthetic", "letter", "usps")
DEFAULT_SCALING_ROWS = "10000,100000,1000000"
MULTILOGIT_FLOAT32 = "multilogit float32"
QUICK_BANDWIDTH_BYTES = 128 * 2**20
PREDICT_REPEAT = 30


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true",
        help="digits only, one fit per setting, no row scaling; the report goes to stdout "
        "unless --out is given",
    )
    add_comparison_arguments(parser, datasets=DEFAULT_DATASETS, repeat=3)
    # Here --tol and --max-iter set the reference fits, which must get to the optimum.
    parser.set_defaults(tol=1e-8, max_iter=10_000)
    parser.add_argument(
        "--rtol", type=float, default=1e-6,
        help="the target objective is the best reference objective plus this relative margin "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--synthetic-samples", type=int, default=100_000,
        help="rows of the synthetic problem (default: %(default)s)",
    )
    parser.add_argument(
        "--scaling-rows", default=DEFAULT_SCALING_ROWS,
        help="comma-separated row counts of the synthetic problem for the per-row cost; empty "
        "to skip (default: %(default)s)",
    )
    parser.add_argument(
        "--settle-every-fit", action="store_true",
        help="pause before every fit, not only before one that follows other work (the protocol "
        "of reports before 2026-12-07)",
    )
    parser.add_argument(
        "--out", default=None, help=f"markdown report (default: {HERE / 'results.md'})"
    )
    parser.add_argument(
        "--chart", default=None, help=f"PNG chart; empty to skip (default: {HERE / 'results.png'})"
    )
    args = parser.parse_args(argv)
    # Quick fits are repeated until they took MIN_TIMED_SECONDS; --quick times one fit each.
    args.min_seconds = MIN_TIMED_SECONDS
    if args.quick:
        args.datasets, args.repeat, args.scaling_rows = "digits", 1, ""
        args.min_seconds = 0.0
    if args.out is None and not args.quick:
        args.out = str(HERE / "results.md")
    if args.chart is None:
        args.chart = "" if args.quick else str(HERE / "results.png")
    args.scaling_rows = [int(n) for n in args.scaling_rows.split(",") if n]
    return split_comparison_arguments(parser, args)


def _progress(text):
    print(text, file=sys.stderr, flush=True)


def _accuracy(model, dataset):
    return float(np.mean(model.predict(dataset.X_eval) == dataset.y_eval))


def run_strategy(dataset, strategy, args, *, with_sklearnex, float32=False):
    """Reference fits, target, and time to target of every contender (time_to_target.py)."""
    after_other_work()  # predict and per-evaluation timings, or loading, came before
    settings = dict(C=args.C, tol=args.tol)
    ours_float64 = multilogit_contender(
        strategy, dataset.X_train, C=args.C, n_threads=args.threads
    )
    contenders = [
        ours_float64,
        *peer_contenders(
            strategy, dataset.X_train, C=args.C, n_threads=args.threads,
            with_sklearnex=with_sklearnex,
        ),
    ]
    references = {
        c.name: fit_once(c, dataset, strategy, max_iter=args.max_iter, **settings)
        for c in contenders
    }
    optimum, threshold = target_objective(references.values(), args.rtol)
    results = {}
    for c in contenders:
        results[c.name] = time_to_target(
            c, dataset, strategy, threshold=threshold,
            start=start_from_reference(references[c.name]), limit=args.max_iter,
            repeat=args.repeat, reference=references[c.name], min_seconds=args.min_seconds,
            **settings,
        )
        _progress(_describe(dataset.name, strategy, results[c.name]))
    float64_in_turn = None
    if float32:
        # No reference fit: float32 stalls far above float64's optimum at a tight tol, which
        # would take long and say nothing. The walk starts from float64's cap instead, and its
        # one timed fit is only a placeholder: float64 and float32 are timed again in turn.
        ours = results[MULTILOGIT]
        contender = multilogit_contender(
            strategy, dataset.X_train.astype(np.float32), C=args.C, n_threads=args.threads,
            name=MULTILOGIT_FLOAT32,
        )
        theirs = time_to_target(
            contender, dataset, strategy, threshold=threshold,
            start=ours.cap or start_from_reference(ours.reference), limit=args.max_iter,
            repeat=1, min_seconds=0.0, **settings,
        )
        if ours.reached and theirs.reached:
            float64_in_turn, theirs = retimed_in_turn(
                [(ours_float64, ours), (contender, theirs)], dataset, strategy,
                repeat=args.repeat, min_seconds=args.min_seconds, **settings,
            )
        results[MULTILOGIT_FLOAT32] = theirs
        _progress(_describe(dataset.name, strategy, theirs))
    accuracy = {
        name: _accuracy(result.best.model, dataset)
        for name, result in results.items() if result.reached
    }
    return report.StrategyResult(dataset.name, strategy, optimum, results, accuracy,
                                 float64_in_turn)


def _describe(dataset_name, strategy, result):
    if not result.reached:
        return f"  {dataset_name} {strategy} {result.contender}: target not reached"
    times = ", ".join(f"{s:.3f}" for s in result.all_seconds)
    return (
        f"  {dataset_name} {strategy} {result.contender}: max_iter={result.cap}, "
        f"fit times {times} s"
    )


def _best_predict_seconds(models, X):
    """Best predict_proba time of each model over PREDICT_REPEAT calls in a row. Each model's
    calls follow each other: right after another library's call, that library's idle BLAS
    threads still spin and would take the cores from the next call."""
    best = []
    for model in models:
        seconds = float("inf")
        for _ in range(PREDICT_REPEAT):
            start = time.perf_counter()
            model.predict_proba(X)
            seconds = min(seconds, time.perf_counter() - start)
        best.append(seconds)
    return best


def predict_proba_timings(strategy_result, dataset):
    """predict_proba of the fitted models on the training rows, best of PREDICT_REPEAT."""
    ours = strategy_result.results[MULTILOGIT]
    if not ours.reached:
        return []
    peers = [
        peer for peer in strategy_result.peers() if strategy_result.results[peer].reached
    ]
    models = [ours.best.model] + [strategy_result.results[peer].best.model for peer in peers]
    timed = [model for model in models if hasattr(model, "predict_proba")]
    seconds = dict(zip(map(id, timed), _best_predict_seconds(timed, dataset.X_train)))
    return [
        report.PredictProbaTiming(
            dataset.name, strategy_result.strategy, peer, seconds[id(ours.best.model)],
            seconds.get(id(strategy_result.results[peer].best.model)),
        )
        for peer in peers
    ]


def measure_costs(datasets, args):
    """(costs, scaling): the per-evaluation costs (per_evaluation.py) of every data set, the
    synthetic one in float32 too, and of the synthetic set at each of args.scaling_rows."""
    costs = []
    for dataset in datasets:
        _progress(f"{dataset.name}: per-evaluation time")
        variants = [dataset.X_train]
        if dataset.name == "synthetic":
            variants.append(dataset.X_train.astype(np.float32))
        costs += measure_evaluation_costs(
            dataset.name, variants, dataset.y_train, n_threads=args.threads, repeat=args.repeat,
        )
    scaling = []
    for n_rows in args.scaling_rows:
        _progress(f"per-row cost at {n_rows} rows")
        known = next(
            (c for c in costs if c.name == "synthetic" and c.dtype == "float64" and c.n == n_rows),
            None,
        )
        if known is None:
            data = load_synthetic(n_samples=n_rows)
            [known] = measure_evaluation_costs(
                "synthetic", [data.X_train], data.y_train, n_threads=args.threads,
                repeat=args.repeat,
            )
            del data
        scaling.append(known)
    return costs, scaling


def load_datasets(args, data_dir):
    datasets, notes = [], []
    if any(name in SHARED_DATASETS for name in args.datasets):
        notes.append(data_dir_status(data_dir))
    for name in args.datasets:
        try:
            if name == "synthetic":
                datasets.append(load_synthetic(n_samples=args.synthetic_samples))
            else:
                datasets.append(load_dataset(name, data_dir))
        except DataUnavailable as missing:
            notes.append(f"{name}: skipped ({missing})")
            _progress(f"{name}: skipped ({missing})")
    return datasets, notes


def main(argv=None):
    command = " ".join(sys.argv[1:] if argv is None else argv)
    args = _parse_args(argv)
    started = time.perf_counter()
    data_dir = args.data_dir or find_data_dir(extra_starts=[HERE])
    sklearnex_version, sklearnex_note = sklearnex_status()
    versions = {
        "multilogit": multilogit.__version__,
        "scikit-learn": sklearn.__version__,
        "scikit-learn-intelex": sklearnex_version or "not installed",
        "numpy": np.__version__,
    }
    n_threads = args.threads or os.cpu_count()
    settle_before_every_fit(args.settle_every_fit)

    limit = nullcontext()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=args.threads)
    with limit:
        def measure_rates():
            return machine.measure_rates(
                n_threads=n_threads,
                skinny_shape=(args.synthetic_samples, 100, 10),
                bandwidth_bytes=(
                    QUICK_BANDWIDTH_BYTES if args.quick else machine.bandwidth_array_bytes()
                ),
            )

        _progress("measuring bandwidth and GEMM rates")
        rates = measure_rates()
        datasets, notes = load_datasets(args, data_dir)
        if sklearnex_note:
            notes.append(sklearnex_note)
            _progress(sklearnex_note)

        # Per-evaluation times at the start and at the end of the run, the better of each kept:
        # like the rates, a time taken while other work ran on this shared machine is too long.
        costs, scaling = measure_costs(datasets, args)
        strategy_results, proba = [], []
        for dataset in datasets:
            for strategy in args.strategies:
                _progress(f"{dataset.name} {strategy}: reference fits and time to target")
                result = run_strategy(
                    dataset, strategy, args, with_sklearnex=sklearnex_version is not None,
                    float32=dataset.name == "synthetic" and strategy == "softmax",
                )
                strategy_results.append(result)
                proba += predict_proba_timings(result, dataset)
        late_costs, late_scaling = measure_costs(datasets, args)
        costs, scaling = better_of(costs, late_costs), better_of(scaling, late_scaling)

        # The roofline from the better of two measurements of each rate, minutes apart.
        _progress("measuring bandwidth and GEMM rates again")
        rates = rates.best_with(measure_rates())
        costs, scaling = with_roofline(costs, rates), with_roofline(scaling, rates)

    lines = _report_lines(
        args, command, versions, rates, datasets, notes, strategy_results, costs, scaling, proba,
        total_seconds=time.perf_counter() - started,
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        _progress(f"report written to {args.out}")
    if args.chart and strategy_results:
        report.write_chart(args.chart, strategy_results, costs)
        _progress(f"chart written to {args.chart}")
    return 0


def _report_lines(
    args, command, versions, rates, datasets, notes, strategy_results, costs, scaling, proba,
    total_seconds,
):
    threads = "all cores" if args.threads is None else str(args.threads)
    lines = [
        "# multilogit benchmark",
        "",
        *machine.description_lines(versions),
        f"- multilogit kernels: {multilogit.instruction_set()} (the widest instruction set this "
        "CPU runs, chosen at run time)",
        f"- settings: C={args.C:g}; reference fits tol={args.tol:g}, max_iter={args.max_iter}; "
        f"target = best reference objective × (1 + {args.rtol:g}); threads: {threads}; "
        f"best of {args.repeat} fit(s)"
        + (f" or more, up to {MAX_REPEAT}, until they took {args.min_seconds:g} s"
           if args.min_seconds > 0 else "")
        + f"; a pause of {SETTLE_SECONDS:g} s before "
        + ("every fit" if args.settle_every_fit
           else "each fit, unless it follows a fit of the same library"),
        f"- command: `{' '.join(['python benchmarks/bench_fit.py', command]).strip()}`",
        "",
        "## Machine rates (the roofline)",
        "",
        *report.rates_lines(rates),
        "",
        "Each rate is the better of two measurements, at the start and at the end of the run: "
        "one taken while other work ran on this shared machine shows less than its peak.",
        "",
        "## Data sets and peers",
        "",
        *[f"- {d.describe()}" for d in datasets],
        *report.peer_models_lines(strategy_results),
        *[f"- {note}" for note in notes],
        "",
        "## Time to the same objective",
        "",
        *report.time_to_target_table(strategy_results),
        "",
        "optimum: the best training objective of the reference fits (summed over the binary "
        "problems for ovr and ovo). max_iter: the smallest cap on the grid whose fit gets within "
        f"{args.rtol:g} relative of it; the times are fits at that cap (best of the repeats). "
        "speed ratio = peer time / multilogit time (above 1: multilogit is faster). Extra peak "
        "RSS: resident memory added during a fit at that cap (the search's, sampled; the timed "
        "fits run without the sampler), worker processes included. Accuracy of the best-timed "
        "fit on the test split (synthetic: on the training rows).",
    ]
    float32_result = next(
        (r for r in strategy_results if MULTILOGIT_FLOAT32 in r.results), None
    )
    if float32_result is not None:
        lines += [
            "",
            f"## float32 against float64 (multilogit, softmax, {float32_result.dataset})",
            "",
            *report.precision_table(float32_result, MULTILOGIT_FLOAT32, costs),
            "",
            "The float32 fit reads a float32 copy of X; its objective is evaluated on the float64 "
            "data against the same target. The two dtypes' fits at their caps are timed in turn "
            "(float64's again, after the table above), and so are their per-evaluation fits.",
        ]
    if costs:
        lines += [
            "",
            "## Per-evaluation time against the roofline (multilogit, softmax)",
            "",
            *report.roofline_table(costs),
            "",
            "per evaluation: (time of a fit capped at k2 iterations − at k1) / (its "
            'loss-and-gradient evaluations − those at k1), solver="lbfgs", tol=0, best of the '
            "repeats; the better of two such measurements, at the start and at the end of the "
            "run. roofline: max(bytes of X / read bandwidth, 4·n·d·K / GEMM peak).",
        ]
    if scaling:
        lines += [
            "",
            "## Per-row cost (multilogit, softmax, synthetic, float64)",
            "",
            *report.scaling_table(scaling, per_row_spread(scaling)),
        ]
    if proba:
        lines += [
            "",
            "## predict_proba (the training rows of each data set)",
            "",
            *report.predict_proba_table(proba),
        ]
    lines += ["", f"Total benchmark time: {total_seconds:.0f} s."]
    return lines


if __name__ == "__main__":
    sys.exit(main())
