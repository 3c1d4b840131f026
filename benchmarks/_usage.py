"""CPU and memory of a run's processes: the flow's and the extraction workers'
(its children in its process group; the Prefect server and the outlets have
their own groups and are left out)."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict

import psutil


class ProcessUse:
    """Sampled in a `with` block: peak resident memory summed over the processes
    (RSS, every 100 ms, counts pages shared with the fork server in each worker; PSS,
    every 500 ms, shares them out, so its sum is what the processes take together),
    per-process peaks, and CPU seconds by role. Reading PSS costs the kernel ~5 ms a
    process, so the sampler's own CPU is taken out of the flow's."""

    PSS_EVERY = 5  # samples

    def __init__(self) -> None:
        self.peak_rss = 0
        self.peak_pss = 0
        self.process_peak: dict[int, tuple[str, int]] = {}  # pid → (role, peak RSS)
        self._cpu: dict[int, tuple[str, float]] = {}
        self._cpu0: dict[int, float] = {}
        self._own = 0.0  # CPU seconds of the sampling thread itself
        # (time.monotonic(), CPU seconds of every process seen so far): the run's timeline.
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ProcessUse:
        self._read()  # CPU already spent (a fork server started by an earlier run) is not this block's
        self._cpu0 = {pid: seconds for pid, (_, seconds) in self._cpu.items()}
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read()

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds spent in the block, by role (a fork server started in it: its imports too)."""
        roles: dict[str, float] = defaultdict(float)
        for pid, (role, seconds) in self._cpu.items():
            roles[role] += (
                seconds - self._cpu0.get(pid, 0.0) - (self._own if pid == os.getpid() else 0)
            )
        return dict(roles)

    def _sample(self) -> None:
        n = 0
        while not self._stop.wait(0.1):
            self._read(pss=n % self.PSS_EVERY == 0)
            n += 1
        self._own = time.thread_time()

    def _read(self, pss: bool = True) -> None:
        me = psutil.Process()
        group = os.getpgid(0)
        rss = pss_sum = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                if os.getpgid(p.pid) != group:
                    continue
                if p.pid == me.pid:
                    role = "flow"
                elif p.ppid() == me.pid:
                    role = "fork server" if "forkserver" in " ".join(p.cmdline()) else "other"
                else:
                    role = "extraction workers"
                info = p.memory_full_info() if pss else p.memory_info()
                t = p.cpu_times()
            except (psutil.Error, ProcessLookupError):
                continue
            rss += info.rss
            pss_sum += getattr(info, "pss", 0)
            self._cpu[p.pid] = (role, t.user + t.system)
            peak = self.process_peak.get(p.pid, (role, 0))[1]
            self.process_peak[p.pid] = (role, max(peak, info.rss))
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss_sum)
        self.samples.append((time.monotonic(), sum(c for _, c in self._cpu.values())))
