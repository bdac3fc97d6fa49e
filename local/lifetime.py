"""The local stand-ins for Lambda's triggers run until SIGTERM or Ctrl-C, then stop cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> None:
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    start()
    stopped.wait()
    stop()
