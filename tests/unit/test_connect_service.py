"""Connecting and disconnecting through the service, with the outside world in memory."""

from __future__ import annotations

import itertools
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.accounts import AccountStatus
from chalicelib.domain.connect import (
    Attach,
    Authorization,
    Callback,
    ConnectFailed,
    ConnectRequest,
    Failure,
    Pending,
    attach_outcome,
)
from chalicelib.domain.errors import NotFound, StripeRejected, StripeUnavailable
from chalicelib.services.connect import ConnectService
from tests.unit.fakes import MemoryAccounts


class Sessions:
    def __init__(self) -> None:
        self.items: dict[str, Pending] = {}
        self.lose_next_race = False

    def put(self, key, pending):
        assert key not in self.items
        self.items[key] = pending

    def get(self, key):
        return self.items.get(key)

    def use(self, key, at):
        if self.lose_next_race:  # another request spent it between our read and our write
            self.lose_next_race = False
            self.items[key] = replace(self.items[key], used_at=at)
            return False
        if key not in self.items or self.items[key].used_at is not None:
            return False
        self.items[key] = replace(self.items[key], used_at=at)
        return True


class Accounts(MemoryAccounts):
    def attach(self, account):
        before = self.items.get(account.account_id)
        if before is None or (before.company_id == account.company_id and not before.is_connected):
            self.items[account.account_id] = replace(
                account, webhook_secrets=before.webhook_secrets if before else ()
            )
            return Attach.CONNECTED, before
        return attach_outcome(before, account.company_id), before

    def for_company(self, company_id):
        found = [a for a in self.items.values() if a.company_id == company_id]
        return sorted(found, key=lambda a: a.connected_at, reverse=True)


class OAuth:
    def __init__(self) -> None:
        self.grants: dict[str, str] = {}  # code → account id
        self.exchanged: list[str] = []
        self.deauthorized: list[str] = []
        self.client_id: str | None = "ca_test"
        self.failure: Exception | None = None

    def authorize_url(self, state, redirect_uri, email):
        if not self.client_id:
            raise StripeRejected("no client id", code="not_configured")
        return f"https://connect.stripe.test/oauth/authorize?state={state}&email={email}"

    def exchange_code(self, code):
        self.exchanged.append(code)
        if self.failure:
            raise self.failure
        if code not in self.grants:
            raise StripeRejected("Invalid authorization code", code="invalid_grant")
        return Authorization(self.grants.pop(code), livemode=False, scope="read_write")

    def deauthorize(self, account_id):
        if self.failure:
            raise self.failure
        self.deauthorized.append(account_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_world():
    counter = itertools.count()
    sessions, accounts, oauth, clock = Sessions(), Accounts(), OAuth(), Clock()
    service = ConnectService(
        sessions,
        accounts,
        oauth,
        link_ttl_seconds=900,
        state_ttl_seconds=3600,
        clock=clock,
        new_secret=lambda: f"secret-{next(counter)}",
    )
    return service, sessions, accounts, oauth, clock


@pytest.fixture
def world():
    return make_world()


REDIRECT = "https://bridge.test/connect/oauth/callback"


def start(service, company="co_1", **fields):
    """The platform makes a link and the admin opens it: the state and the browser's cookie."""
    link = service.create_link(ConnectRequest(company, **fields))
    redirect = service.open_link(link.link_id, REDIRECT)
    state = parse_qs(urlsplit(redirect.authorize_url).query)["state"][0]
    return state, redirect.cookie


def authorized(oauth, account_id="acct_1", code=None):
    code = code or f"ac_{account_id}_{len(oauth.grants)}"
    oauth.grants[code] = account_id
    return code


def failure_of(call, *args) -> Failure:
    with pytest.raises(ConnectFailed) as raised:
        call(*args)
    return raised.value.failure


def test_an_admin_connects_the_company_account(world):
    service, sessions, accounts, oauth, _ = world
    state, cookie = start(service, connected_by="jane", email="jane@example.com")
    connected = service.finish(Callback(state, authorized(oauth), None, cookie))
    stored = accounts.get("acct_1")
    assert connected.account == stored
    assert (stored.company_id, stored.connected_by, stored.scope) == ("co_1", "jane", "read_write")
    assert stored.is_connected and not connected.reconnected
    # Neither the link id, the state nor the cookie is stored in clear.
    assert not any(secret in key for key in sessions.items for secret in (state, cookie))


def test_a_link_is_single_use(world):
    service, *_ = world
    link = service.create_link(ConnectRequest("co_1"))
    service.open_link(link.link_id, REDIRECT)
    assert failure_of(service.open_link, link.link_id, REDIRECT) is Failure.LINK_USED
    assert failure_of(service.open_link, "made-up", REDIRECT) is Failure.LINK_UNKNOWN


def test_a_link_expires(world):
    service, _, _, _, clock = world
    link = service.create_link(ConnectRequest("co_1", locale="fr"))
    clock.now += 900
    with pytest.raises(ConnectFailed) as raised:
        service.open_link(link.link_id, REDIRECT)
    assert raised.value.failure is Failure.LINK_EXPIRED
    assert raised.value.request.locale == "fr"  # the page can still speak the admin's language


def test_two_browsers_opening_one_link_at_once_get_one_state(world):
    service, sessions, *_ = world
    link = service.create_link(ConnectRequest("co_1"))
    sessions.lose_next_race = True
    assert failure_of(service.open_link, link.link_id, REDIRECT) is Failure.LINK_USED
    assert not any(key.startswith("state#") for key in sessions.items)


def test_without_a_client_id_the_link_is_kept_for_later(world):
    service, _, _, oauth, _ = world
    link = service.create_link(ConnectRequest("co_1"))
    oauth.client_id = None
    assert failure_of(service.open_link, link.link_id, REDIRECT) is Failure.NOT_CONFIGURED
    oauth.client_id = "ca_test"
    assert service.open_link(link.link_id, REDIRECT).authorize_url


def test_the_state_is_checked_before_the_code_is_exchanged(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    code = authorized(oauth)
    for seen in (
        Callback(None, code, None, cookie),
        Callback("forged", code, None, cookie),
        Callback(state, code, None, None),
        Callback(state, code, None, "another browser's cookie"),
    ):
        service_failure = failure_of(service.finish, seen)
        assert service_failure in (
            Failure.STATE_MISSING,
            Failure.STATE_UNKNOWN,
            Failure.STATE_MISMATCH,
        )
    assert oauth.exchanged == [] and accounts.items == {}
    # None of that spent the rightful browser's state.
    assert service.finish(Callback(state, code, None, cookie)).account.company_id == "co_1"


def test_a_replayed_callback_never_reaches_stripe_twice(world):
    service, _, _, oauth, _ = world
    state, cookie = start(service)
    callback = Callback(state, authorized(oauth), None, cookie)
    service.finish(callback)
    assert failure_of(service.finish, callback) is Failure.STATE_USED
    assert len(oauth.exchanged) == 1


def test_two_callbacks_racing_exchange_the_code_once(world):
    service, sessions, accounts, oauth, _ = world
    state, cookie = start(service)
    sessions.lose_next_race = True
    callback = Callback(state, authorized(oauth), None, cookie)
    assert failure_of(service.finish, callback) is Failure.STATE_USED
    assert oauth.exchanged == [] and accounts.items == {}


def test_an_expired_state_is_refused(world):
    service, _, _, oauth, clock = world
    state, cookie = start(service)
    clock.now += 3600
    callback = Callback(state, authorized(oauth), None, cookie)
    assert failure_of(service.finish, callback) is Failure.STATE_EXPIRED
    assert oauth.exchanged == []


@pytest.mark.parametrize(
    ("error", "code", "failure"),
    [
        ("access_denied", None, Failure.ACCESS_DENIED),
        ("invalid_scope", None, Failure.AUTHORIZATION_FAILED),
        (None, None, Failure.AUTHORIZATION_FAILED),
    ],
)
def test_stripe_saying_no_spends_the_state_and_stores_nothing(world, error, code, failure):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    assert failure_of(service.finish, Callback(state, code, error, cookie)) is failure
    assert failure_of(service.finish, Callback(state, code, error, cookie)) is Failure.STATE_USED
    assert oauth.exchanged == [] and accounts.items == {}


@pytest.mark.parametrize(
    ("problem", "failure"),
    [
        (StripeRejected("expired code", code="invalid_grant"), Failure.CODE_REJECTED),
        (StripeUnavailable("timeout"), Failure.STRIPE_UNAVAILABLE),
    ],
)
def test_a_failed_exchange_stores_nothing(world, problem, failure):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    oauth.failure = problem
    assert failure_of(service.finish, Callback(state, "ac_x", None, cookie)) is failure
    assert accounts.items == {} and oauth.exchanged == ["ac_x"]


def test_an_account_of_another_company_is_refused_and_left_to_it(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service, company="co_owner")
    service.finish(Callback(state, authorized(oauth), None, cookie))
    owner = accounts.get("acct_1")

    state, cookie = start(service, company="co_other")
    callback = Callback(state, authorized(oauth), None, cookie)
    assert failure_of(service.finish, callback) is Failure.ACCOUNT_TAKEN
    assert accounts.get("acct_1") == owner and accounts.for_company("co_other") == []
    assert oauth.deauthorized == []  # revoking would cut the owner off


def test_a_refused_account_no_company_uses_is_not_left_attached_to_the_platform(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service, company="co_owner")
    service.finish(Callback(state, authorized(oauth), None, cookie))
    service.disconnect("co_owner", "acct_1")
    before = accounts.get("acct_1")

    state, cookie = start(service, company="co_other")
    callback = Callback(state, authorized(oauth), None, cookie)
    assert failure_of(service.finish, callback) is Failure.ACCOUNT_TAKEN
    assert accounts.get("acct_1") == before
    assert oauth.deauthorized == ["acct_1", "acct_1"]


def test_reconnecting_the_same_account_is_idempotent_and_revives_a_disconnected_one(world):
    service, _, accounts, oauth, clock = world
    state, cookie = start(service, connected_by="jane")
    first = service.finish(Callback(state, authorized(oauth), None, cookie)).account
    accounts.items["acct_1"] = replace(first, webhook_secrets=("whsec_kept",))

    state, cookie = start(service, connected_by="john")
    again = service.finish(Callback(state, authorized(oauth), None, cookie))
    assert again.reconnected and again.account.connected_by == "jane"
    assert len(accounts.for_company("co_1")) == 1

    service.disconnect("co_1", "acct_1")
    clock.now += 60
    state, cookie = start(service, connected_by="john")
    revived = service.finish(Callback(state, authorized(oauth), None, cookie)).account
    stored = accounts.get("acct_1")
    assert stored.is_connected and stored.connected_by == "john"
    assert stored.connected_at > first.connected_at and stored.disconnected_at is None
    assert stored.webhook_secrets == ("whsec_kept",) and revived.account_id == "acct_1"


def test_a_company_may_connect_several_accounts_over_time(world):
    service, _, accounts, oauth, clock = world
    for account_id in ("acct_old", "acct_new"):
        state, cookie = start(service)
        service.finish(Callback(state, authorized(oauth, account_id), None, cookie))
        clock.now += 60
    listed = [a.account_id for a in service.accounts_of("co_1")]
    assert listed == ["acct_new", "acct_old"]


def test_an_attackers_flow_only_ever_attaches_to_the_attackers_company(world):
    service, _, accounts, oauth, _ = world
    evil_state, evil_cookie = start(service, company="co_evil")
    victim_state, victim_cookie = start(service, company="co_victim")
    evil_code = authorized(oauth, "acct_evil")
    # The victim's browser is lured to the callback with the attacker's state and code.
    lured = Callback(evil_state, evil_code, None, victim_cookie)
    assert failure_of(service.finish, lured) is Failure.STATE_MISMATCH
    # The attacker replays the victim's state (seen in a log, say) from their own browser.
    stolen = Callback(victim_state, evil_code, None, evil_cookie)
    assert failure_of(service.finish, stolen) is Failure.STATE_MISMATCH
    assert accounts.items == {} and oauth.exchanged == []
    # With their own state and cookie, the code lands on their own company, nowhere else.
    service.finish(Callback(evil_state, evil_code, None, evil_cookie))
    assert accounts.get("acct_evil").company_id == "co_evil"
    assert accounts.for_company("co_victim") == []


def test_disconnecting_revokes_at_stripe_then_keeps_the_history(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    service.finish(Callback(state, authorized(oauth), None, cookie))
    gone = service.disconnect("co_1", "acct_1")
    assert oauth.deauthorized == ["acct_1"]
    assert gone.status is AccountStatus.DISCONNECTED and gone.disconnected_at
    assert service.disconnect("co_1", "acct_1") == gone  # idempotent, Stripe not asked again
    assert oauth.deauthorized == ["acct_1"]
    assert service.accounts_of("co_1") == [gone]


def test_disconnecting_what_the_company_does_not_own_is_not_found(world):
    service, _, _, oauth, _ = world
    state, cookie = start(service, company="co_owner")
    service.finish(Callback(state, authorized(oauth), None, cookie))
    for company, account in (("co_other", "acct_1"), ("co_owner", "acct_unknown")):
        with pytest.raises(NotFound):
            service.disconnect(company, account)
    assert oauth.deauthorized == []


def test_when_stripe_is_down_the_account_stays_connected(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    service.finish(Callback(state, authorized(oauth), None, cookie))
    oauth.failure = StripeUnavailable("down")
    with pytest.raises(StripeUnavailable):
        service.disconnect("co_1", "acct_1")
    assert accounts.get("acct_1").is_connected


def test_the_deauthorized_event_and_the_platforms_request_end_alike_in_either_order():
    ends = []
    for event_first in (True, False):
        service, _, accounts, oauth, _ = make_world()
        state, cookie = start(service)
        service.finish(Callback(state, authorized(oauth), None, cookie))
        at = "2026-11-29T12:00:00.000+00:00"
        if event_first:
            accounts.mark_disconnected("acct_1", at)
            service.disconnect("co_1", "acct_1")
        else:
            service.disconnect("co_1", "acct_1")
            accounts.mark_disconnected("acct_1", at)
        ends.append(replace(accounts.get("acct_1"), disconnected_at=None))
    assert ends[0] == ends[1] and ends[0].status is AccountStatus.DISCONNECTED
