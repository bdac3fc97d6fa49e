"""The rules of an account's webhook health, and of keeping its endpoint in line (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.webhook_health import (
    ENDPOINT_MARKER,
    Deliveries,
    EndpointCheck,
    HourBucket,
    Problem,
    assess,
    check_endpoint,
    deliveries_from,
    find_endpoint,
    hour_of,
    window_hours,
)
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from chalicelib.services.provisioning import ensure_account_endpoint

NOW = datetime(2026, 12, 3, 19, 30, tzinfo=UTC)
URL = "https://bridge.example.com/webhooks/stripe/acct_1"
GOOD = EndpointCheck(True, True, "we_1", True, True, True, "2025-01-27.acacia")
NOTHING = Deliveries(None, None, None, 0)


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat(timespec="milliseconds")


# (hours ago, verified), at most one delivery a minute.
deliveries = st.lists(
    st.tuples(st.integers(0, 72 * 60).map(lambda minutes: minutes / 60), st.booleans()),
    min_size=1,
    max_size=30,
    unique_by=lambda seen: seen[0],
)


def buckets_of(seen: list[tuple[float, bool]]) -> list[HourBucket]:
    """What the store would hold after these deliveries (hours ago, verified)."""
    by_hour: dict[str, HourBucket] = {}
    for hours_ago, verified in sorted(seen, reverse=True):  # oldest first, as they arrived
        when = NOW - timedelta(hours=hours_ago)
        old = by_hour.get(hour_of(when), HourBucket(hour_of(when)))
        by_hour[old.hour] = HourBucket(
            old.hour,
            old.verified + verified,
            old.refused + (not verified),
            at(hours_ago),
            verified,
            at(hours_ago) if verified else old.last_verified_at,
        )
    return list(by_hour.values())


@given(deliveries, st.randoms())
def test_the_last_delivery_and_the_refusals_of_the_window_whatever_the_order(seen, rnd):
    buckets = buckets_of(seen)
    rnd.shuffle(buckets)
    summary = deliveries_from(buckets, NOW)
    newest_hours, newest_verified = min(seen)
    assert (summary.last_at, summary.last_verified) == (at(newest_hours), newest_verified)
    in_window = set(window_hours(NOW))
    expected = sum(
        1 for hours, ok in seen if not ok and hour_of(NOW - timedelta(hours=hours)) in in_window
    )
    assert summary.refused_last_24h == expected
    verified = [hours for hours, ok in seen if ok]
    assert summary.last_verified_at == (at(min(verified)) if verified else None)


def test_the_window_is_the_current_hour_and_the_23_before():
    hours = window_hours(NOW)
    assert len(hours) == 24 and hours[0] == "2026-12-03T19" and hours[-1] == "2026-12-02T20"


def test_a_working_endpoint_with_a_secret_and_a_verified_delivery_is_healthy():
    seen = Deliveries(at(0), True, at(0), 3)  # refusals earlier today do not matter now
    health = assess(seen, GOOD, ["whsec_…abcd"], has_access=True)
    assert health.healthy and health.problems == ()


def test_problems_come_in_the_order_an_admin_fixes_them():
    off = EndpointCheck(True, True, "we_1", False, False, False)
    health = assess(Deliveries(at(1), False, None, 1), off, [], has_access=True)
    assert health.problems == (
        Problem.ENDPOINT_WRONG_URL,
        Problem.ENDPOINT_WRONG_EVENTS,
        Problem.ENDPOINT_DISABLED,
        Problem.NO_SIGNING_SECRET,
        Problem.LAST_DELIVERY_REFUSED,
    )
    assert assess(NOTHING, EndpointCheck(True), ["x"], True).problems == (
        Problem.ENDPOINT_MISSING,
        Problem.NO_DELIVERY_YET,
    )
    unchecked = EndpointCheck(False, error="stripe_unavailable")
    assert Problem.ENDPOINT_UNCHECKED in assess(NOTHING, unchecked, ["x"], True).problems
    assert assess(NOTHING, None, ["x"], False).problems[0] is Problem.NOT_CONNECTED


def test_ours_is_the_marked_endpoint_else_the_enabled_one_at_our_url():
    mine = {"id": "we_mine", "url": "https://moved.example", "metadata": {ENDPOINT_MARKER: "svc"}}
    at_url_off = {"id": "we_off", "url": URL, "status": "disabled", "metadata": {}}
    at_url_on = {"id": "we_on", "url": URL, "status": "enabled", "metadata": {}}
    theirs = {"id": "we_theirs", "url": "https://other.example", "metadata": {}}
    assert find_endpoint([theirs, at_url_off, mine], URL, "svc") is mine
    assert find_endpoint([theirs, at_url_off, at_url_on], URL, "svc") is at_url_on
    assert find_endpoint([theirs], URL, "svc") is None
    # Another stage's marker is not ours.
    assert find_endpoint([mine], URL, "other-stage") is None
    check = check_endpoint({**at_url_on, "enabled_events": list(HANDLED_EVENT_TYPES)}, URL)
    assert (check.exists, check.url_matches, check.events_match, check.enabled) == (True,) * 4


class Endpoints:
    """One connected account's endpoints in memory (the stand-in is used by the HTTP tests)."""

    def __init__(self, existing: list[dict[str, Any]] | None = None) -> None:
        self.endpoints = existing or []
        self.calls: list[str] = []

    def list_webhook_endpoints(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.endpoints]

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create")
        created = {"id": f"we_{len(self.endpoints)}", "status": "enabled", **params}
        self.endpoints.append(created)
        return {**created, "secret": "whsec_new"}

    def update_webhook_endpoint(self, endpoint_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("update")
        [endpoint] = [e for e in self.endpoints if e["id"] == endpoint_id]
        endpoint.update({k: v for k, v in params.items() if k != "disabled"})
        endpoint["status"] = "disabled" if params.get("disabled") else "enabled"
        return endpoint


edits = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from([URL, "https://elsewhere.example/hook"]),
        "enabled_events": st.lists(st.sampled_from(HANDLED_EVENT_TYPES), max_size=9),
        "status": st.sampled_from(["enabled", "disabled"]),
    },
)


@given(st.lists(edits, max_size=4))
def test_whatever_an_admin_edits_one_press_brings_the_endpoint_back(edit_list):
    stripe = Endpoints()
    first = ensure_account_endpoint(stripe, URL, "2025-01-27.acacia", "svc")
    assert (first.action, first.secret) == ("created", "whsec_new")
    for edit in edit_list:
        stripe.endpoints[0].update(edit)
        ensure_account_endpoint(stripe, URL, "2025-01-27.acacia", "svc")
        [endpoint] = stripe.endpoints
        assert endpoint["url"] == URL and endpoint["status"] == "enabled"
        assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)
    again = ensure_account_endpoint(stripe, URL, "2025-01-27.acacia", "svc")
    assert again.action == "unchanged" and stripe.calls.count("create") == 1
    assert stripe.endpoints[0]["metadata"] == {ENDPOINT_MARKER: "svc"}
