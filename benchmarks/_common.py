"""Shared by the benchmark scripts: timing and the repository on the import path."""

from __future__ import annotations

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def best(fn, repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs of ``fn()``, in seconds (the least disturbed measurement)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
