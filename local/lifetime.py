"""The local stand-ins for Lambda's triggers run until SIGTERM or Ctrl-C, then stop cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> None:
    stopped = stop_signals()
    start()
    wait_for(stopped)
    stop()


def stop_signals() -> threading.Event:
    """An event that SIGTERM and Ctrl-C set from now on (instead of a KeyboardInterrupt)."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    return stopped


def wait_for(stopped: threading.Event) -> None:
    """Wait until the event is set, by a signal handler among others.

    The system may hand a signal to any thread of the process; Python runs its handler in the
    main thread only when that thread next runs. A main thread blocked for good in wait()
    would not: it wakes up every so often to let the handler run.
    """
    while not stopped.wait(0.2):
        pass
