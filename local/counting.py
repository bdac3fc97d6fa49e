"""A tally of the requests a local emulator serves: how many of each kind, and its time on them.

Off unless asked for (the benchmarks turn it on): what it names and times is served unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Served:
    count: int
    seconds: float


class RequestTally:
    """Thread-safe counts and handling time per request name (e.g. "dynamodb GetItem")."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: dict[str, Served] = {}

    def record(self, name: str, seconds: float) -> None:
        with self._lock:
            before = self._served.get(name, Served(0, 0.0))
            self._served[name] = Served(before.count + 1, before.seconds + seconds)

    def snapshot(self) -> dict[str, Served]:
        with self._lock:
            return dict(self._served)

    def reset(self) -> None:
        with self._lock:
            self._served.clear()
