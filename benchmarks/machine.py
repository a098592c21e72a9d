"""What the machine is and what it can do: the description for the report, and the two rates a
loss-and-gradient evaluation is bounded by (memory read bandwidth and GEMM flop rate)."""

import datetime
import os
import platform
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# The bandwidth array must not fit in the last-level cache; 4x its size is the usual margin.
MIN_BANDWIDTH_BYTES = 512 * 2**20
MAX_BANDWIDTH_BYTES = 2 * 2**30
SQUARE_GEMM_SIZE = 2000


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def last_level_cache_bytes():
    """Size of the largest cache of CPU 0 (sysfs), or None when it cannot be read."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
    return max(sizes, default=None)


def source_revision():
    """The git revision of the checkout this script sits in ("" outside one)."""
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def blas_description():
    from threadpoolctl import threadpool_info

    pools = [
        f"{p['internal_api']} {p.get('version') or ''} ({p['num_threads']} threads)".replace(
            "  ", " "
        )
        for p in threadpool_info()
    ]
    return ", ".join(pools) or "none detected"


def description_lines(versions):
    """Markdown bullet lines describing the machine; ``versions`` maps names to versions."""
    cache = last_level_cache_bytes()
    cache_text = f", last-level cache {cache / 2**20:.0f} MiB" if cache else ""
    revision = source_revision()
    version_text = ", ".join(f"{name} {version}" for name, version in versions.items())
    return [
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores{cache_text}, "
        f"{platform.system()} {platform.release()}, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
        f"- versions: {version_text}, Python {platform.python_version()}"
        + (f"; source at git {revision}" if revision else ""),
        f"- BLAS (numpy, scikit-learn): {blas_description()}",
        # Other work on the machine slows every timing; the report should say how busy it was.
        "- load average (1, 5, 15 min) at the end of the run: "
        + ", ".join(f"{load:.1f}" for load in os.getloadavg()),
    ]


def _best_seconds(work, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


@dataclass(frozen=True)
class Rates:
    """Measured rates, per second."""

    read_bytes: float  # memory read bandwidth (bytes/s), n_threads threads
    bandwidth_array_bytes: int
    n_threads: int
    gemm_skinny: dict  # dtype name -> flop/s of the two products of one evaluation
    gemm_square: dict  # dtype name -> flop/s of a square product
    skinny_shape: tuple  # (n, d, K)

    def flop_peak(self, dtype):
        """The GEMM rate the roofline uses: the better of the skinny and square products."""
        name = np.dtype(dtype).name
        return max(self.gemm_skinny[name], self.gemm_square[name])

    def best_with(self, other):
        """The better of each rate here and in ``other`` (the same measurements taken again):
        on a shared machine a measurement taken while other work ran shows less than the
        hardware's peak, which the roofline is meant to be."""

        def better(mine, theirs):
            return {name: max(value, theirs[name]) for name, value in mine.items()}

        return replace(
            self,
            read_bytes=max(self.read_bytes, other.read_bytes),
            gemm_skinny=better(self.gemm_skinny, other.gemm_skinny),
            gemm_square=better(self.gemm_square, other.gemm_square),
        )


def read_bandwidth(n_bytes, n_threads, repeat=5):
    """Bytes per second read by summing a float64 array, split over ``n_threads`` threads
    (numpy releases the GIL inside the sum, so the threads read in parallel)."""
    data = np.ones(n_bytes // 8)
    chunks = np.array_split(data, n_threads)
    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(np.sum, chunks))  # touch every page once before timing
        seconds = _best_seconds(lambda: list(pool.map(np.sum, chunks)), repeat)
    return data.nbytes / seconds


def skinny_gemm_rate(n, d, K, dtype, repeat=5):
    """Flop/s of the two products one softmax evaluation makes: (n x d)(d x K) for the scores
    and (d x n)(n x K) for the gradient, 4 n d K flops in all."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = rng.standard_normal((d, K)).astype(dtype)
    G = rng.standard_normal((n, K)).astype(dtype)
    seconds = _best_seconds(lambda: (X @ W, X.T @ G), repeat)
    return 4.0 * n * d * K / seconds


def square_gemm_rate(size, dtype, repeat=3):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size)).astype(dtype)
    B = rng.standard_normal((size, size)).astype(dtype)
    seconds = _best_seconds(lambda: A @ B, repeat)
    return 2.0 * size**3 / seconds


def bandwidth_array_bytes():
    cache = last_level_cache_bytes() or 0
    return int(min(MAX_BANDWIDTH_BYTES, max(MIN_BANDWIDTH_BYTES, 4 * cache)))


def measure_rates(*, n_threads, skinny_shape, bandwidth_bytes):
    """Bandwidth over ``bandwidth_bytes`` and GEMM rates in float64 and float32 (numpy's BLAS,
    its default thread count)."""
    read = read_bandwidth(bandwidth_bytes, n_threads)
    skinny, square = {}, {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        skinny[name] = skinny_gemm_rate(*skinny_shape, dtype)
        square[name] = square_gemm_rate(SQUARE_GEMM_SIZE, dtype)
    return Rates(read, bandwidth_bytes, n_threads, skinny, square, tuple(skinny_shape))
