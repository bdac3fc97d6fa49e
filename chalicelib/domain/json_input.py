"""JSON from outside the service, read strictly: only what every JSON reader agrees on.

Python's json module takes NaN and Infinity, keeps the last of duplicate keys, passes lone
surrogates (which no UTF-8 encoder downstream can write) and recurses until the interpreter
gives up. Each of those is refused here as not JSON, so no request can reach a 500 with them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64  # Stripe's deepest events nest about ten levels
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def parse_json(raw: bytes | str) -> Any:
    """The parsed value, or ValueError saying why the input is not strict JSON."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None
    _check_depth_and_strings(value)
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("an object names a key twice")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def _check_depth_and_strings(value: Any) -> None:
    # Iterative: a value that json could build must not crash the check itself.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise ValueError("a string holds a lone surrogate")
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)
