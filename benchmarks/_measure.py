"""Honest measurement shared by the benchmarks (issue 19, item 1).

- :func:`interleaved` runs every side of a comparison in rounds (A, B, A, B, ...), so that load
  from other jobs hits all sides alike, and keeps every round's wall and CPU seconds;
  :func:`repeats` picks the number of rounds: at least 3, and 5 for anything under 2 s.
- :func:`report` prints best, spread (min-max) and the rounds of each side; ratios are taken
  between the best rounds (:func:`ratio`) and per round.
- :func:`conditions` prints the load average (call it at the start and at the end of a run) and
  the thread settings that change the figures: BLAS/OpenMP pools (threadpoolctl), numba's thread
  count and layer, the ``*_NUM_THREADS`` variables, the CPUs the process may use.

No figure is asserted anywhere: the tests only run the benchmarks on tiny sizes so that they
cannot rot (``tests/test_benchmarks.py``).
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "NUMBA_THREADING_LAYER", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (plus those of its waited-for children if asked)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    total = r.ru_utime + r.ru_stime
    if children:
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += c.ru_utime + c.ru_stime
    return total


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def thread_settings() -> str:
    """One line: the BLAS/OpenMP pools, numba's threads, and the thread variables that are set."""
    parts = [f"{cpus()} CPUs usable"]
    try:
        from threadpoolctl import threadpool_info

        for p in threadpool_info():
            parts.append(f"{p.get('internal_api')}={p.get('num_threads')}"
                         f" ({os.path.basename(p.get('filepath', ''))})")
    except Exception as e:  # noqa: BLE001 - informative only
        parts.append(f"threadpoolctl unavailable ({type(e).__name__})")
    try:
        import numba

        parts.append(f"numba threads={numba.config.NUMBA_NUM_THREADS}")
    except Exception as e:  # noqa: BLE001 - informative only
        parts.append(f"numba unavailable ({type(e).__name__})")
    env = [f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ]
    parts.append("env: " + (" ".join(env) if env else "no *_NUM_THREADS set"))
    return "; ".join(parts)


def conditions(when: str) -> str:
    """Print (and return) the load average and thread settings, labelled ``when`` (start/end)."""
    line = (f"[{when}] {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average {load_average()} "
            f"(1/5/15 min); {thread_settings()}")
    print(line, flush=True)
    return line


def repeats(seconds: float, asked: int | None = None) -> int:
    """Rounds to run for a measurement of about ``seconds``: >= 3, and >= 5 under 2 s."""
    n = 5 if seconds < 2.0 else 3
    return max(n, asked or 0)


@dataclass
class Timings:
    """Wall and CPU seconds of every round of one side."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.wall)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)

    def spread(self) -> str:
        return f"{min(self.wall):.3g}-{max(self.wall):.3g} s"

    def describe(self) -> str:
        med = statistics.median(self.wall)
        return (f"best {self.best:.3g} s (spread {self.spread()}, median {med:.3g} s, n={len(self.wall)}; "
                f"CPU best {self.best_cpu:.3g} s)")


def interleaved(sides: dict[str, Callable[[int], object]], rounds: int | None = None, *,
                children: bool = False, verbose: bool = True) -> dict[str, Timings]:
    """Run each callable of ``sides`` once per round, in turn (interleaved), ``rounds`` times.

    ``rounds=None``: decided after the first round by :func:`repeats` of the fastest side (>= 3,
    5 if it took under 2 s). Each callable gets the round number. ``children``: add the CPU
    time of waited-for child processes to this process's (sides that run subprocesses).
    """
    out = {k: Timings() for k in sides}
    r = 0
    while rounds is None or r < rounds:
        for name, fn in sides.items():
            c0, t0 = cpu_seconds(children), time.perf_counter()
            fn(r)
            out[name].wall.append(time.perf_counter() - t0)
            out[name].cpu.append(cpu_seconds(children) - c0)
            if verbose:
                print(f"  round {r + 1}/{rounds or '?'}: {name:40s} {out[name].wall[-1]:8.3f} s wall "
                      f"{out[name].cpu[-1]:8.3f} s CPU", flush=True)
        if rounds is None:
            rounds = repeats(min(t.wall[0] for t in out.values()))
        r += 1
    return out


def report(timings: dict[str, Timings]) -> None:
    for name, t in timings.items():
        print(f"  {name}: {t.describe()}", flush=True)


def per_round(num: Timings, den: Timings) -> str:
    return ", ".join(f"{a / b:.2f}" for a, b in zip(num.wall, den.wall))
