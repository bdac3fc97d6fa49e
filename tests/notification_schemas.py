"""The JSON Schemas of what the platform is told (schemas/notifications/<detail-type>.json), and
one check of a notification as the platform receives it: EventBridge's envelope, then its detail."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "notifications"
SOURCE = "stripe-bridge"
# Shared parts, not notifications of their own.
_PARTS = {"common", "account"}


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text())
        Draft202012Validator.check_schema(contents)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def detail_types() -> list[str]:
    """Every detail-type the platform may receive, one schema each."""
    return sorted(p.stem for p in SCHEMAS.glob("*.json") if p.stem not in _PARTS)


@cache
def _validator(detail_type: str) -> Draft202012Validator:
    path = SCHEMAS / f"{detail_type}.json"
    if detail_type in _PARTS or not path.exists():
        raise AssertionError(
            f"no schema for notifications of detail-type {detail_type!r}: add {path}"
        )
    return Draft202012Validator(json.loads(path.read_text()), registry=_registry())


def problems(detail_type: str, detail: Any) -> list[str]:
    """What is wrong with a notification's detail under its type's schema (empty: nothing)."""
    errors = sorted(_validator(detail_type).iter_errors(detail), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(detail)'}: {e.message}" for e in errors]


def check_detail(detail_type: str, detail: Any) -> None:
    found = problems(detail_type, detail)
    if found:
        shown = json.dumps(detail, sort_keys=True)[:2000]
        raise AssertionError(
            f"a {detail_type} notification does not match "
            f"schemas/notifications/{detail_type}.json:\n  " + "\n  ".join(found) + f"\n{shown}"
        )


def check_event(event: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event as an SQS target receives it; its detail, once checked."""
    assert event.get("source") == SOURCE, f"not the service's notification: {event.get('source')}"
    detail, detail_type = event.get("detail"), event.get("detail-type")
    assert isinstance(detail, dict), f"a notification's detail is an object, not {detail!r}"
    assert detail.get("type") == detail_type, (
        f"detail-type {detail_type!r} but the detail says type {detail.get('type')!r}"
    )
    check_detail(str(detail_type), detail)
    return detail
