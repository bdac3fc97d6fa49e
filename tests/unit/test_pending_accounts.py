"""Accounts a migration imported, through the service: their admin's authorisation, or not."""

from __future__ import annotations

from chalicelib.domain.accounts import AccountStatus
from chalicelib.domain.connect import Callback, Failure
from chalicelib.domain.imports import Import, ImportRow
from tests.unit.test_connect_service import authorized, failure_of, make_world, start, told

AT = "2026-11-20T09:00:00.000+00:00"
ROW = ImportRow(2, "co_1", "acct_1Mig", "admin@co.test", False)


def imported():
    service, sessions, records, oauth, clock = make_world()
    assert service.accounts.import_pending(ROW, AT).outcome is Import.IMPORTED
    return service, records, oauth


def test_the_admin_authorises_the_imported_account_and_it_is_connected_with_its_history():
    service, records, oauth = imported()
    state, cookie = start(service, connected_by="admin-1")
    connected = service.finish(Callback(state, authorized(oauth, "acct_1Mig"), None, cookie))

    account = records.get("acct_1Mig")
    assert connected.reconnected and account == connected.account
    assert (account.status, account.imported_at, account.email, account.connected_by) == (
        AccountStatus.CONNECTED,
        AT,
        "admin@co.test",
        "admin-1",
    )
    assert [(s.status, s.at) for s in account.history] == [
        ("pending_authorization", AT),
        ("connected", account.connected_at),
    ]
    assert records.active == {"co_1": "acct_1Mig"}
    assert told(service) == [
        ("account.pending_authorization", "acct_1Mig.v1"),
        ("account.connected", "acct_1Mig.v2"),
    ]
    assert oauth.deauthorized == []


def test_another_account_is_refused_while_the_imported_one_is_awaited():
    service, records, oauth = imported()
    state, cookie = start(service)
    failure = failure_of(
        service.finish, Callback(state, authorized(oauth, "acct_1Other"), None, cookie)
    )
    assert failure is Failure.ANOTHER_ACCOUNT_PENDING
    assert oauth.deauthorized == ["acct_1Other"]  # the grant just made is withdrawn
    assert records.get("acct_1Other") is None
    assert records.get("acct_1Mig").status is AccountStatus.PENDING_AUTHORIZATION
    assert told(service) == [("account.pending_authorization", "acct_1Mig.v1")]


def test_with_the_platforms_replace_another_account_is_connected_and_the_imported_withdrawn():
    service, records, oauth = imported()
    state, cookie = start(service, replace=True)
    service.finish(Callback(state, authorized(oauth, "acct_1Other"), None, cookie))
    withdrawn = records.get("acct_1Mig")
    assert withdrawn.status is AccountStatus.DISCONNECTED and withdrawn.disconnected_at
    assert records.get("acct_1Other").status is AccountStatus.CONNECTED
    assert records.active == {"co_1": "acct_1Other"}
    assert sorted(told(service)) == [
        ("account.connected", "acct_1Other.v1"),
        ("account.disconnected", "acct_1Mig.v2"),
        ("account.pending_authorization", "acct_1Mig.v1"),
    ]


def test_the_platform_may_disconnect_an_imported_account_without_calling_stripe():
    service, records, oauth = imported()
    gone = service.disconnect("co_1", "acct_1Mig")
    assert gone.status is AccountStatus.DISCONNECTED and oauth.deauthorized == []
    assert [s.status for s in gone.history] == ["pending_authorization", "disconnected"]
    assert service.accounts.import_pending(ROW, AT).outcome is Import.UNCHANGED


def test_an_admin_connecting_during_the_import_wins():
    service, sessions, records, oauth, clock = make_world()
    state, cookie = start(service)
    real_write = records.write

    def connect_first(changes, active, no_active_for=None):
        records.write = real_write
        service.finish(Callback(state, authorized(oauth, "acct_1Admin"), None, cookie))
        return real_write(changes, active, no_active_for)

    records.write = connect_first
    decision = service.accounts.import_pending(ROW, AT)
    assert decision.outcome is Import.REFUSED and "has a connected account" in decision.reason
    assert records.get("acct_1Mig") is None
