"""Connecting and disconnecting through the service, with the outside world in memory."""

from __future__ import annotations

import itertools
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.accounts import AccountChange, AccountStatus, ActiveChange, ConnectedAccount
from chalicelib.domain.connect import (
    Authorization,
    Callback,
    ConnectFailed,
    ConnectRequest,
    Failure,
    Pending,
)
from chalicelib.domain.errors import (
    ConcurrentUpdate,
    NotFound,
    StripeRejected,
    StripeUnavailable,
)
from chalicelib.services.accounts import Accounts
from chalicelib.services.connect import ConnectService, iso
from tests.unit.fakes import RecordingNotifier


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


class Records:
    """The accounts table in memory, with its conditions: versions and the active account."""

    def __init__(self) -> None:
        self.items: dict[str, ConnectedAccount] = {}
        self.active: dict[str, str] = {}
        self.outbox: dict[str, dict[str, dict]] = {}

    def get(self, account_id):
        return self.items.get(account_id)

    def for_company(self, company_id):
        found = [a for a in self.items.values() if a.company_id == company_id]
        return sorted(found, key=lambda a: a.connected_at or a.known_since, reverse=True)

    def put(self, account):
        self.items[account.account_id] = account

    def set_webhook_secrets(self, account_id, secrets):
        if account_id not in self.items:
            return None
        self.items[account_id] = replace(self.items[account_id], webhook_secrets=secrets)
        return self.items[account_id]

    def active_account_id(self, company_id):
        return self.active.get(company_id)

    def write(self, changes, active, no_active_for=None):
        if no_active_for is not None and no_active_for in self.active:
            raise ConcurrentUpdate("active")
        for change in changes:
            stored = self.items.get(change.account.account_id)
            if (stored.version if stored else 0) != change.expected_version:
                raise ConcurrentUpdate("version")
        if active is not None and self.active.get(active.company_id) != active.expected:
            raise ConcurrentUpdate("active")
        for change in changes:
            stored = self.items.get(change.account.account_id)
            secrets = stored.webhook_secrets if stored else ()
            self.items[change.account.account_id] = replace(change.account, webhook_secrets=secrets)
            if change.notification:
                box = self.outbox.setdefault(change.account.account_id, {})
                box[change.notification["notification_id"]] = dict(change.notification)
        if active is not None:
            if active.active is None:
                self.active.pop(active.company_id, None)
            else:
                self.active[active.company_id] = active.active

    def unpublished(self, account_id):
        return sorted(self.outbox.get(account_id, {}).values(), key=lambda n: n["version"])

    def mark_published(self, account_id, notification_id):
        self.outbox.get(account_id, {}).pop(notification_id, None)


class OAuth:
    def __init__(self) -> None:
        self.grants: dict[str, str] = {}  # code → account id
        self.exchanged: list[str] = []
        self.deauthorized: list[str] = []
        self.client_id: str | None = "ca_test"
        self.failure: Exception | None = None

    def authorize_origin(self):
        return "https://connect.stripe.test"

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
    sessions, records, oauth, clock = Sessions(), Records(), OAuth(), Clock()
    notifier = RecordingNotifier()
    service = ConnectService(
        sessions,
        Accounts(records, lambda: notifier),
        oauth,
        link_ttl_seconds=900,
        state_ttl_seconds=3600,
        clock=clock,
        new_secret=lambda: f"secret-{next(counter)}",
    )
    return service, sessions, records, oauth, clock


def told(service) -> list[tuple[str, str]]:
    """What the platform was told: (type, notification id)."""
    return [(n["type"], n["notification_id"]) for n in service.accounts.notifier().published]


@pytest.fixture
def world():
    return make_world()


REDIRECT = "https://bridge.test/connect/oauth/callback"


def opened(service, link_id):
    """The admin reads the link's page and presses its button, from the same browser."""
    shown = service.show_link(link_id)
    return service.open_link(link_id, REDIRECT, shown.csrf, shown.csrf)


def start(service, company="co_1", **fields):
    """The platform makes a link and the admin opens it: the state and the browser's cookie."""
    link = service.create_link(ConnectRequest(company, **fields))
    redirect = opened(service, link.link_id)
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
    assert stored.has_access and not connected.reconnected
    # Neither the link id, the state nor the cookie is stored in clear.
    assert not any(secret in key for key in sessions.items for secret in (state, cookie))


def test_a_link_is_single_use(world):
    service, *_ = world
    link = service.create_link(ConnectRequest("co_1"))
    opened(service, link.link_id)
    assert failure_of(opened, service, link.link_id) is Failure.LINK_USED
    assert failure_of(service.show_link, "made-up") is Failure.LINK_UNKNOWN


def test_a_link_expires(world):
    service, _, _, _, clock = world
    link = service.create_link(ConnectRequest("co_1", locale="fr"))
    clock.now += 900
    with pytest.raises(ConnectFailed) as raised:
        opened(service, link.link_id)
    assert raised.value.failure is Failure.LINK_EXPIRED
    assert raised.value.request.locale == "fr"  # the page can still speak the admin's language


def test_two_browsers_opening_one_link_at_once_get_one_state(world):
    service, sessions, *_ = world
    link = service.create_link(ConnectRequest("co_1"))
    sessions.lose_next_race = True
    assert failure_of(opened, service, link.link_id) is Failure.LINK_USED
    assert not any(key.startswith("state#") for key in sessions.items)


def test_without_a_client_id_the_link_is_kept_for_later(world):
    service, _, _, oauth, _ = world
    link = service.create_link(ConnectRequest("co_1"))
    oauth.client_id = None
    assert failure_of(opened, service, link.link_id) is Failure.NOT_CONFIGURED
    oauth.client_id = "ca_test"
    assert opened(service, link.link_id).authorize_url


def test_the_state_is_checked_before_the_code_is_exchanged(world):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    code = authorized(oauth)
    for seen, failure in (
        (Callback(None, code, None, cookie), Failure.STATE_MISSING),
        (Callback("forged", code, None, cookie), Failure.STATE_UNKNOWN),
        (
            Callback(state, None, "access_denied", "another browser's cookie"),
            Failure.STATE_MISMATCH,
        ),
    ):
        assert failure_of(service.finish, seen) is failure
    assert oauth.exchanged == [] and accounts.items == {}
    # None of that spent the rightful browser's state.
    assert service.finish(Callback(state, code, None, cookie)).account.company_id == "co_1"


@pytest.mark.parametrize("stranger_cookie", [None, "another browser's cookie"])
def test_a_state_seen_with_a_code_in_another_browser_is_spent(world, stranger_cookie):
    service, _, accounts, oauth, _ = world
    state, cookie = start(service)
    code = authorized(oauth)
    exposed = Callback(state, code, None, stranger_cookie)
    assert failure_of(service.finish, exposed) is Failure.STATE_MISMATCH
    # State and code left the browser that started them: neither is of use to anyone now.
    assert failure_of(service.finish, Callback(state, code, None, cookie)) is Failure.STATE_USED
    assert oauth.exchanged == [] and accounts.items == {}


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
    assert stored.has_access and stored.connected_by == "john"
    assert stored.connected_at > first.connected_at and stored.disconnected_at is None
    assert stored.webhook_secrets == ("whsec_kept",) and revived.account_id == "acct_1"


def connect(service, oauth, account_id, company="co_1", **fields):
    state, cookie = start(service, company=company, **fields)
    return service.finish(Callback(state, authorized(oauth, account_id), None, cookie))


def test_a_leaked_link_cannot_attach_a_second_account_to_a_company(world):
    service, _, accounts, oauth, _ = world
    first = connect(service, oauth, "acct_company").account
    # Someone else opens a link of the company (forwarded, scanned) and connects their account.
    state, cookie = start(service)
    callback = Callback(state, authorized(oauth, "acct_intruder"), None, cookie)
    assert failure_of(service.finish, callback) is Failure.ANOTHER_ACCOUNT_ACTIVE
    assert accounts.get("acct_company") == first and accounts.get("acct_intruder") is None
    assert service.accounts.connected_for_company("co_1").account_id == "acct_company"
    assert oauth.deauthorized == ["acct_intruder"]  # the grant is not left attached
    assert told(service) == [("account.connected", "acct_company.v1")]


def test_a_replace_link_moves_the_company_to_the_new_account_and_says_so(world):
    service, _, accounts, oauth, clock = world
    connect(service, oauth, "acct_old")
    clock.now += 60
    connected = connect(service, oauth, "acct_new", replace=True)
    assert connected.replaced.account_id == "acct_old"
    old, new = accounts.get("acct_old"), accounts.get("acct_new")
    assert (old.status, old.replaced_by) == (AccountStatus.REPLACED, "acct_new")
    assert old.has_access and not old.is_active  # its payments are still repaired
    assert new.is_active and oauth.deauthorized == []
    assert service.accounts.connected_for_company("co_1").account_id == "acct_new"
    assert told(service) == [
        ("account.connected", "acct_old.v1"),
        ("account.connected", "acct_new.v1"),
        ("account.replaced", "acct_old.v2"),
    ]
    [replaced] = [n for n in service.accounts.notifier().published if n["version"] == 2]
    assert (replaced["company_id"], replaced["replaced_by"]) == ("co_1", "acct_new")


def test_a_replaced_account_comes_back_only_by_replacing_the_active_one(world):
    service, _, accounts, oauth, clock = world
    connect(service, oauth, "acct_old")
    clock.now += 60
    connect(service, oauth, "acct_new", replace=True)
    state, cookie = start(service)
    callback = Callback(state, authorized(oauth, "acct_old"), None, cookie)
    assert failure_of(service.finish, callback) is Failure.ANOTHER_ACCOUNT_ACTIVE
    assert oauth.deauthorized == []  # the platform still needs its access for old payments
    clock.now += 60
    connect(service, oauth, "acct_old", replace=True)
    assert accounts.get("acct_old").is_active and not accounts.get("acct_new").is_active


def test_once_the_active_account_is_disconnected_another_may_be_connected(world):
    service, _, accounts, oauth, clock = world
    connect(service, oauth, "acct_first")
    service.disconnect("co_1", "acct_first")
    clock.now += 60
    connect(service, oauth, "acct_second")
    listed = [(a.account_id, a.status) for a in service.accounts_of("co_1")]
    assert listed == [
        ("acct_second", AccountStatus.CONNECTED),
        ("acct_first", AccountStatus.DISCONNECTED),
    ]


def test_two_companies_racing_for_one_new_account_leave_it_with_one(world):
    service, _, accounts, oauth, _ = world
    records = service.accounts.records
    write = records.write

    def lose_once(changes, active):
        records.write = write  # the other company's write lands between our read and ours
        write(
            [AccountChange(replace(changes[0].account, company_id="co_fast"), 0, None)],
            ActiveChange("co_fast", None, changes[0].account.account_id),
        )
        write(changes, active)

    records.write = lose_once
    state, cookie = start(service)
    callback = Callback(state, authorized(oauth, "acct_raced"), None, cookie)
    assert failure_of(service.finish, callback) is Failure.ACCOUNT_TAKEN
    assert accounts.get("acct_raced").company_id == "co_fast"


def test_a_notification_the_bus_refused_is_sent_on_the_next_touch(world):
    service, _, _, oauth, _ = world
    notifier = service.accounts.notifier()
    notifier.down = True
    assert connect(service, oauth, "acct_1").account.is_active  # the admin still sees success
    assert notifier.published == []
    notifier.down = False
    service.accounts_of("co_1")
    assert told(service) == [("account.connected", "acct_1.v1")]
    service.accounts_of("co_1")
    assert len(notifier.published) == 1


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
    # Both states were exposed with a code: spent, even for their own browsers.
    for state, cookie in ((evil_state, evil_cookie), (victim_state, victim_cookie)):
        replayed = Callback(state, evil_code, None, cookie)
        assert failure_of(service.finish, replayed) is Failure.STATE_USED
    # With a fresh state and cookie, the code lands on their own company, nowhere else.
    evil_state, evil_cookie = start(service, company="co_evil")
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
    assert accounts.get("acct_1").has_access


def test_the_deauthorized_event_and_the_platforms_request_end_alike_in_either_order():
    ends = []
    for event_first in (True, False):
        service, _, accounts, oauth, _ = make_world()
        state, cookie = start(service)
        service.finish(Callback(state, authorized(oauth), None, cookie))
        at = "2026-11-29T12:00:00.000+00:00"
        if event_first:
            service.accounts.mark_disconnected("acct_1", at)
            service.disconnect("co_1", "acct_1")
        else:
            service.disconnect("co_1", "acct_1")
            service.accounts.mark_disconnected("acct_1", at)
        end = accounts.get("acct_1")
        assert [step.status for step in end.history] == ["connected", "disconnected"]
        ends.append(replace(end, disconnected_at=None, history=()))
    assert ends[0] == ends[1] and ends[0].status is AccountStatus.DISCONNECTED


def test_reading_a_links_page_spends_nothing(world):
    service, sessions, *_ = world
    link = service.create_link(ConnectRequest("co_1", company_name="Acme"))
    for _ in range(3):  # a mail scanner, a link preview, the admin
        shown = service.show_link(link.link_id)
    assert shown.request.company_name == "Acme" and shown.expires_in == 900
    assert not any(key.startswith("state#") for key in sessions.items)
    assert opened(service, link.link_id).authorize_url


@pytest.mark.parametrize(
    ("form", "cookie"), [(None, None), ("forged", "forged"), (None, "same"), ("same", None)]
)
def test_continuing_without_the_pages_token_spends_nothing(world, form, cookie):
    service, sessions, *_ = world
    link = service.create_link(ConnectRequest("co_1"))
    token = service.show_link(link.link_id).csrf
    form, cookie = (token if v == "same" else v for v in (form, cookie))
    with pytest.raises(ConnectFailed) as raised:
        service.open_link(link.link_id, REDIRECT, form, cookie)
    assert raised.value.failure is Failure.CSRF_FAILED
    assert not any(key.startswith("state#") for key in sessions.items)
    assert opened(service, link.link_id).authorize_url  # the link still works


@pytest.mark.parametrize("event_first", [True, False])
def test_a_disconnection_is_told_once_whichever_way_it_comes(world, event_first):
    service, _, _, oauth, _ = world
    connect(service, oauth, "acct_1")
    at = "2026-11-29T12:00:00.000+00:00"
    steps = [
        lambda: service.accounts.mark_disconnected("acct_1", at),  # Stripe's deauthorized event
        lambda: service.disconnect("co_1", "acct_1"),  # the platform's DELETE
    ]
    for step in steps if event_first else steps[::-1]:
        step()
    steps[0]()  # a redelivered event
    assert told(service) == [
        ("account.connected", "acct_1.v1"),
        ("account.disconnected", "acct_1.v2"),
    ]
    assert service.accounts.connected_for_company("co_1").status is AccountStatus.DISCONNECTED


ACCOUNT_IDS = ("acct_a", "acct_b", "acct_c")
COMPANIES = ("co_1", "co_2")
steps = st.lists(
    st.tuples(
        st.sampled_from(["connect", "replace", "disconnect", "deauthorized"]),
        st.sampled_from(ACCOUNT_IDS),
        st.sampled_from(COMPANIES),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_whatever_links_are_used_a_company_has_one_active_account_and_each_change_is_told_once(
    journey,
):
    service, _, records, oauth, clock = make_world()
    for action, account_id, company in journey:
        clock.now += 60
        if action in ("connect", "replace"):
            state, cookie = start(service, company=company, replace=action == "replace")
            callback = Callback(state, authorized(oauth, account_id), None, cookie)
            try:
                service.finish(callback)
            except ConnectFailed as failed:
                assert failed.failure in (Failure.ACCOUNT_TAKEN, Failure.ANOTHER_ACCOUNT_ACTIVE)
        elif action == "disconnect":
            try:
                service.disconnect(company, account_id)
            except NotFound:
                stored = records.get(account_id)
                assert stored is None or stored.company_id != company
        else:  # Stripe's account.application.deauthorized, as the consumer applies it
            service.accounts.mark_disconnected(account_id, iso(clock.now))
        for company_id in COMPANIES:
            active = [a for a in records.for_company(company_id) if a.is_active]
            assert len(active) <= 1
            if active:
                assert records.active_account_id(company_id) == active[0].account_id
    published = service.accounts.notifier().published
    ids = [n["notification_id"] for n in published]
    assert len(ids) == len(set(ids))  # told once each
    for account in records.items.values():
        told_of = [n for n in published if n["account_id"] == account.account_id]
        # One notification per stored version, in order, the last saying what is stored.
        assert [n["version"] for n in told_of] == list(range(1, account.version + 1))
        assert told_of[-1]["status"] == str(account.status)
        assert {n["company_id"] for n in told_of} == {account.company_id}
