"""Stripe-style request parameters: nested form decoding and typed, validated reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import StripeError, invalid, missing


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict:
    """`a[b][c]=1`, `list[0]=x`, `list[]=y` → nested dicts.

    Lists stay dicts keyed by index here; `list_param` turns them into lists, so that a metadata
    key that happens to be numeric is never mistaken for a list.
    """
    root: dict = {}
    for key, value in pairs:
        base, _, rest = key.partition("[")
        path = [base, *rest[:-1].split("][")] if rest else [base]
        node = root
        for segment in path[:-1]:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        last = path[-1] or str(len(node))
        node[last] = value
    return root


def check_known(params: dict, allowed: Iterable[str]) -> None:
    known = set(allowed) | {"expand"}
    for name in params:
        if name not in known:
            raise StripeError(400, f"Received unknown parameter: {name}",
                              code="parameter_unknown", param=name)


def _present(params: dict, name: str) -> bool:
    return params.get(name) not in (None, "")


def str_param(params: dict, name: str) -> str | None:
    if not _present(params, name):
        return None
    value = params[name]
    if not isinstance(value, str):
        raise invalid(name, f"Invalid string: {value!r}", code="parameter_invalid_string")
    return value


def int_param(params: dict, name: str, *, minimum: int | None = None) -> int | None:
    if not _present(params, name):
        return None
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(name, f"Invalid integer: {value!r}", code="parameter_invalid_integer")
    try:
        number = int(value)
    except ValueError:
        raise invalid(name, f"Invalid integer: {value}",
                      code="parameter_invalid_integer") from None
    if minimum is not None and number < minimum:
        raise invalid(name, f"This value must be greater than or equal to {minimum}.",
                      code="parameter_invalid_integer")
    return number


def require_str(params: dict, name: str) -> str:
    value = str_param(params, name)
    if value is None:
        raise missing(name)
    return value


def require_int(params: dict, name: str, *, minimum: int | None = None) -> int:
    value = int_param(params, name, minimum=minimum)
    if value is None:
        raise missing(name)
    return value


def bool_param(params: dict, name: str, default: bool | None = None) -> bool | None:
    if not _present(params, name):
        return default
    value = params[name]
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise invalid(name, f"Invalid boolean: {value}")


def list_param(params: dict, name: str) -> list | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        try:
            return [value[key] for key in sorted(value, key=int)]
        except ValueError:
            raise invalid(name, f"Invalid array: {name}") from None
    if value == "":
        return []
    return [value]


def dict_param(params: dict, name: str) -> dict | str | None:
    """A hash parameter; the empty string is kept because Stripe reads it as "clear all"."""
    value = params.get(name)
    if value is None or value == "" or isinstance(value, dict):
        return value
    raise invalid(name, f"Invalid hash: {name}", code="parameter_invalid_hash")


def merge_metadata(current: dict, update: Any) -> dict:
    """Stripe's metadata update rules: `""` clears everything, a key set to `""` is removed."""
    if update is None:
        return current
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value in ("", None):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged
