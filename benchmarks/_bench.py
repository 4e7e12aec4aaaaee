"""Timing helpers the benchmark scripts share (they run as `python benchmarks/<name>.py`)."""

from __future__ import annotations

import time
from typing import Any, Callable


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(the fastest of `repeats` runs in seconds, the last output)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def best_pair(f_other: Callable[[], Any], f_whybox: Callable[[], Any], repeats: int) -> tuple[float, float, Any, Any]:
    """Best time of each after a warm-up, the two run alternately so that both see the same machine load:
    (t_other, t_whybox, out_other, out_whybox)."""
    f_other()
    f_whybox()
    t_o, t_w, out_o, out_w = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out_o = f_other()
        t_o.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out_w = f_whybox()
        t_w.append(time.perf_counter() - t0)
    return min(t_o), min(t_w), out_o, out_w


def append_results(text: str) -> None:
    """Append a benchmark's table to benchmarks/RESULTS.md (the README quotes it)."""
    import os

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "a") as fh:
        fh.write(text)
