"""Polling with a deadline, for what happens on another thread or process."""

import time
from collections.abc import Callable


def wait_until[T](check: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """The first truthy result of `check`, or AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
