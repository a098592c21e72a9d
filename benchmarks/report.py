"""The markdown report and the chart, from the measured results."""

import math
from dataclasses import dataclass, field

from contenders import MULTILOGIT, PEER_MODELS

MiB = 2**20


@dataclass
class StrategyResult:
    """Time-to-target results of every contender on one data set and strategy."""

    dataset: str
    strategy: str
    optimum: float  # best objective among the reference fits
    results: dict  # contender name -> time_to_target.TargetResult
    accuracy: dict = field(default_factory=dict)  # contender name -> accuracy of its best fit
    # multilogit's float64 result timed again in turn with its float32 result, if any
    float64_in_turn: object = None

    def peers(self):
        return [name for name in self.results if name in {p for p, _ in PEER_MODELS}]

    def speed_ratio(self, peer):
        ours, theirs = self.results[MULTILOGIT], self.results[peer]
        if not (ours.reached and theirs.reached):
            return float("nan")
        return theirs.best.seconds / ours.best.seconds


@dataclass
class PredictProbaTiming:
    dataset: str
    strategy: str
    peer: str
    multilogit_seconds: float
    peer_seconds: float | None  # None: the peer has no predict_proba

    @property
    def ratio(self):
        if self.peer_seconds is None:
            return float("nan")
        return self.peer_seconds / self.multilogit_seconds


def _number(value, spec):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(
        value, spec
    )


def _time_cell(result, optimum):
    if result.reached:
        return f"{result.best.seconds:.3f}"
    gap = (result.closest_objective - optimum) / abs(optimum)
    return f"not reached (best {gap:.1e} above)"


def _cap_cell(result):
    return str(result.cap) if result.reached else "–"


def _memory_cell(result):
    return f"{result.extra_bytes / MiB:.1f}" if result.reached else "–"


def _accuracy_cell(result_set, name):
    accuracy = result_set.accuracy.get(name)
    return _number(accuracy, ".4f")


def time_to_target_table(strategy_results):
    lines = [
        "| data set | strategy | peer | optimum | max_iter ml / peer | multilogit (s) | peer (s) "
        "| speed ratio | extra peak RSS ml / peer (MiB) | accuracy ml / peer |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in strategy_results:
        ours = r.results[MULTILOGIT]
        for peer in r.peers():
            theirs = r.results[peer]
            lines.append(
                f"| {r.dataset} | {r.strategy} | {peer} | {r.optimum:.10g} "
                f"| {_cap_cell(ours)} / {_cap_cell(theirs)} "
                f"| {_time_cell(ours, r.optimum)} | {_time_cell(theirs, r.optimum)} "
                f"| {_number(r.speed_ratio(peer), '.2f')}x "
                f"| {_memory_cell(ours)} / {_memory_cell(theirs)} "
                f"| {_accuracy_cell(r, MULTILOGIT)} / {_accuracy_cell(r, peer)} |"
            )
    return lines


def precision_table(result_set, float32_name, costs):
    """float64 against float32 for multilogit (time to target and per-evaluation time)."""
    by_dtype = {c.dtype: c for c in costs if c.name == result_set.dataset}
    float64 = result_set.float64_in_turn or result_set.results[MULTILOGIT]
    rows = [("float64", float64), ("float32", result_set.results[float32_name])]
    lines = [
        "| X dtype | max_iter | time to target (s) | per evaluation (ms) | extra peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for dtype, result in rows:
        cost = by_dtype.get(dtype)
        lines.append(
            f"| {dtype} | {_cap_cell(result)} | {_time_cell(result, result_set.optimum)} "
            f"| {_number(cost.seconds * 1e3 if cost else None, '.2f')} | {_memory_cell(result)} |"
        )
    f64, f32 = rows[0][1], rows[1][1]
    time_ratio = f64.best.seconds / f32.best.seconds if f64.reached and f32.reached else None
    per_evaluation = (
        by_dtype["float64"].seconds / by_dtype["float32"].seconds
        if {"float64", "float32"} <= by_dtype.keys()
        else None
    )
    lines += [
        "",
        f"float64 time / float32 time: {_number(time_ratio, '.2f')}x to the target, "
        f"{_number(per_evaluation, '.2f')}x per evaluation.",
    ]
    return lines


def roofline_table(costs):
    lines = [
        "| data set | X dtype | n × d, K | X (MiB) | per evaluation (ms) | roofline (ms) "
        "| roofline memory / compute (ms) | bound | ratio to roofline |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for c in costs:
        size = c.n * c.d * (4 if c.dtype == "float32" else 8) / MiB
        lines.append(
            f"| {c.name} | {c.dtype} | {c.n} × {c.d}, {c.K} | {size:.1f} "
            f"| {c.seconds * 1e3:.3f} | {c.roofline.seconds * 1e3:.3f} "
            f"| {c.roofline.memory_seconds * 1e3:.3f} / {c.roofline.compute_seconds * 1e3:.3f} "
            f"| {c.roofline.bound} | {_number(c.ratio_to_roofline, '.2f')}x |"
        )
    return lines


def scaling_table(costs, spread):
    lines = [
        "| rows | per evaluation (ms) | per row (ns) | ratio to roofline |",
        "|---:|---:|---:|---:|",
    ]
    for c in costs:
        lines.append(
            f"| {c.n} | {c.seconds * 1e3:.2f} | {c.nanoseconds_per_row:.1f} "
            f"| {c.ratio_to_roofline:.2f}x |"
        )
    lines += ["", f"Per-row cost spread: ±{spread * 100:.1f}% (largest deviation from the mean)."]
    return lines


def predict_proba_table(timings):
    lines = [
        "| data set | strategy | peer | multilogit (ms) | peer (ms) | ratio peer / multilogit |",
        "|---|---|---|---:|---:|---:|",
    ]
    for t in timings:
        peer_cell = (
            f"{t.peer_seconds * 1e3:.2f}" if t.peer_seconds is not None else "no predict_proba"
        )
        lines.append(
            f"| {t.dataset} | {t.strategy} | {t.peer} | {t.multilogit_seconds * 1e3:.2f} "
            f"| {peer_cell} | {_number(t.ratio, '.2f')}x |"
        )
    return lines


def rates_lines(rates):
    def gflops(value):
        return f"{value / 1e9:.1f}"

    n, d, K = rates.skinny_shape
    lines = [
        f"- read bandwidth: {rates.read_bytes / 1e9:.1f} GB/s (numpy sum of a "
        f"{rates.bandwidth_array_bytes / MiB:.0f} MiB float64 array split over "
        f"{rates.n_threads} threads, best of 5)",
    ]
    for dtype in ("float64", "float32"):
        lines.append(
            f"- GEMM {dtype} (numpy's BLAS): skinny ({n}×{d})·({d}×{K}) + ({d}×{n})·({n}×{K}) "
            f"{gflops(rates.gemm_skinny[dtype])} GFLOP/s, square 2000³ "
            f"{gflops(rates.gemm_square[dtype])} GFLOP/s; the roofline uses the larger, "
            f"{gflops(rates.flop_peak(dtype))} GFLOP/s"
        )
    return lines


def peer_models_lines(strategy_results):
    used = sorted({(peer, r.strategy) for r in strategy_results for peer in r.peers()})
    return [f"- {strategy}: {peer} `{PEER_MODELS[(peer, strategy)]}`" for peer, strategy in used]


def write_chart(path, strategy_results, costs):
    """Speed ratio per data set and strategy, and per-evaluation time beside the roofline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]}
    )
    peers = sorted({p for r in strategy_results for p in r.peers()})
    labels = [f"{r.dataset}\n{r.strategy}" for r in strategy_results]
    width = 0.8 / max(1, len(peers))
    for j, peer in enumerate(peers):
        ratios = [r.speed_ratio(peer) if peer in r.results else math.nan for r in strategy_results]
        xs = [i + (j - (len(peers) - 1) / 2) * width for i in range(len(labels))]
        left.bar(xs, ratios, width, label=f"vs {peer}")
        for x, ratio in zip(xs, ratios):
            if not math.isnan(ratio):
                left.annotate(
                    f"{ratio:.1f}", (x, ratio), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 1), textcoords="offset points",
                )
    left.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    left.set_yscale("log")
    left.set_xticks(range(len(labels)), labels, fontsize=8)
    left.set_ylabel("peer time / multilogit time (above 1: multilogit faster)")
    left.set_title("Time to the same objective (within 1e-6 relative)")
    left.legend(fontsize=8)

    names = [f"{c.name}\n{c.dtype}" if c.dtype != "float64" else c.name for c in costs]
    xs = range(len(costs))
    right.bar([x - 0.2 for x in xs], [c.seconds * 1e3 for c in costs], 0.4, label="multilogit")
    right.bar(
        [x + 0.2 for x in xs], [c.roofline.seconds * 1e3 for c in costs], 0.4, label="roofline"
    )
    for x, c in zip(xs, costs):
        right.annotate(
            f"{c.ratio_to_roofline:.1f}x", (x - 0.2, c.seconds * 1e3), ha="center",
            va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points",
        )
    right.set_yscale("log")
    right.set_xticks(list(xs), names, fontsize=8)
    right.set_ylabel("ms per softmax loss-and-gradient evaluation")
    right.set_title("Per-evaluation time against the roofline")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
