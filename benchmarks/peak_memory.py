"""Extra peak resident memory of a block of code, sampled in a background thread.

RSS is read every millisecond (psutil) for this process and its child processes (the joblib
workers of scikit-learn's OneVsOneClassifier(n_jobs=2)); the peak of the sum, minus the sum just
before the block, is what the block added. It is a lower bound: allocations that live shorter
than a sample interval can be missed, and memory the allocator kept from earlier work is reused
without raising RSS.
"""

import threading

import psutil

SAMPLE_SECONDS = 0.001
# Listing child processes walks /proc, so it is refreshed less often than RSS is read.
CHILDREN_REFRESH_SAMPLES = 100


def _children(process):
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def _total_rss(processes):
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # a worker that exited between the listing and the read
            pass
    return total


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.extra_bytes``."""

    def __init__(self):
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline_bytes = 0
        self.peak_bytes = 0

    @property
    def extra_bytes(self):
        return max(0, self.peak_bytes - self.baseline_bytes)

    def _processes(self):
        return [self._process, *_children(self._process)]

    def _sample(self):
        processes = self._processes()
        samples = 0
        while not self._stop.wait(SAMPLE_SECONDS):
            samples += 1
            if samples % CHILDREN_REFRESH_SAMPLES == 0:
                processes = self._processes()
            self.peak_bytes = max(self.peak_bytes, _total_rss(processes))

    def __enter__(self):
        self.baseline_bytes = _total_rss(self._processes())
        self.peak_bytes = self.baseline_bytes
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        # One last reading: a block shorter than a sample interval is still measured.
        self.peak_bytes = max(self.peak_bytes, _total_rss(self._processes()))
        return False
