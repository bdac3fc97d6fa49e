"""A migration's accounts on the running local stack: imported by the operator, waiting, then
authorised by one company's admin through a connect link, and caught up on what happened."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.conftest import PROJECT, notifications, wait_until

pytestmark = pytest.mark.e2e


def import_accounts(stack, path, *options):
    """The operator's command, against the stack's moto."""
    env = {**os.environ, "AWS_ENDPOINT_URL": stack.aws_endpoint, "STRIPE_API_BASE": stack.stripe}
    return subprocess.run(
        [sys.executable, "-m", "ops", "import-accounts", "--stage", "local", str(path), *options],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def accounts_of(stack, company):
    status, body = stack.platform("GET", f"/companies/{company}/accounts")
    assert status == 200, body
    return body["accounts"]


def authorise(stack, connect_link) -> requests.Response:
    """The platform asks for a link as the listing says; its admin follows it to Stripe's
    consent page (the stand-in's) and presses Connect."""
    assert connect_link["method"] == "POST"
    status, link = stack.platform(
        "POST", connect_link["url"].removeprefix(stack.api), connect_link["body"]
    )
    assert status == 201, link
    browser = requests.Session()
    page = browser.get(link["url"], timeout=30)
    assert page.status_code == 200 and 'id="connect_link"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    to_stripe = browser.post(
        link["url"], data={"csrf_token": csrf}, allow_redirects=False, timeout=30
    )
    assert to_stripe.status_code == 302, to_stripe.text
    consent = browser.get(to_stripe.headers["Location"], timeout=30)
    assert 'id="connect"' in consent.text
    action = re.search(r'<form method="post" action="([^"]+)"', consent.text).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    return browser.post(
        urljoin(consent.url, action), data={**fields, "decision": "connect"}, timeout=30
    )


def test_imported_accounts_wait_then_one_admin_authorises_and_recovery_catches_up(
    stack, platform_inbox, tmp_path
):
    tag = uuid.uuid4().hex[:10]
    companies = [f"migrated-{n}-{tag}" for n in ("a", "b", "c")]
    account_a, account_c = f"acct_1MigA{tag}", f"acct_1MigC{tag}"
    email = f"owner-{tag}@a.test"
    # The company's Stripe account exists at Stripe, with its admin's email.
    stack.standin("/accounts", {"id": account_a, "email": email})
    file = tmp_path / "migration.csv"
    file.write_text(
        "company_id,account_id,email,livemode\n"
        f"{companies[0]},{account_a},{email},false\n"
        f"{companies[1]},acct-{tag},,false\n"  # malformed: not a Stripe account id
        f"{companies[2]},{account_c},,\n"
    )

    # Without --skip-invalid the bad row stops the whole file: nothing is imported.
    refused = import_accounts(stack, file)
    assert refused.returncode == 1
    assert f"{file}: line 3: account_id: must be a Stripe account id (acct_…)" in (
        refused.stderr.splitlines()
    )
    assert all(accounts_of(stack, company) == [] for company in companies)

    # With it, the two good rows are imported and the bad one listed again.
    done = import_accounts(stack, file, "--skip-invalid")
    assert done.returncode == 0, done.stderr
    assert f"{file}: line 3: account_id: must be a Stripe account id (acct_…)" in (
        done.stderr.splitlines()
    )
    assert done.stdout.splitlines()[-1] == "2 imported, 0 unchanged, 1 bad row(s) skipped"
    assert import_accounts(stack, file, "--skip-invalid").stdout.splitlines()[-1] == (
        "0 imported, 2 unchanged, 1 bad row(s) skipped"
    )

    [pending] = accounts_of(stack, companies[0])
    assert (pending["account_id"], pending["status"], pending["email"]) == (
        account_a,
        "pending_authorization",
        email,
    )
    assert pending["connected_at"] is None
    assert pending["history"] == [{"status": "pending_authorization", "at": pending["imported_at"]}]
    assert pending["connect_link"] == {
        "method": "POST",
        "url": f"{stack.api}/companies/{companies[0]}/connect-links",
        "body": {"email": email},
    }
    assert accounts_of(stack, companies[1]) == []
    [waiting] = accounts_of(stack, companies[2])
    assert waiting["status"] == "pending_authorization"
    # No payment can be taken on an account nobody authorised yet.
    status, answer = stack.platform(
        "POST",
        "/payments",
        {
            "company_id": companies[0],
            "amount": 500,
            "currency": "usd",
            "invoices": [{"invoice_id": "INV-1", "amount": 500}],
        },
    )
    assert status == 409 and "authorisation" in answer["error"]["message"]

    # Meanwhile a customer's bank account is verified on the account: Stripe's event reaches
    # the service, which acknowledges it and does nothing (it cannot read Stripe as it yet).
    made = stack.standin("/customers", {"account": account_a, "email": f"payer-{tag}@x.test"})
    customer, bank_account = made["customer"]["id"], made["bank_account"]["id"]
    stack.standin(f"/customers/{customer}/sources/{bank_account}/verify", {"result": "verified"})
    stack.wait_until_queue_drained()
    method_path = f"/payment-methods/{account_a}/{bank_account}"
    assert stack.platform("GET", method_path)[0] == 404

    # The admin authorises the same Stripe account: the same record becomes connected.
    connected_page = authorise(stack, pending["connect_link"])
    assert connected_page.status_code == 200, connected_page.text
    assert 'id="connected"' in connected_page.text and account_a in connected_page.text
    [connected] = accounts_of(stack, companies[0])
    assert (connected["account_id"], connected["status"]) == (account_a, "connected")
    assert connected["imported_at"] == pending["imported_at"]
    assert connected["connect_link"] is None
    assert connected["history"] == [
        {"status": "pending_authorization", "at": pending["imported_at"]},
        {"status": "connected", "at": connected["connected_at"]},
    ]

    # Recovery lists the account's events from its import: the verification is applied now.
    def verified():
        status, body = stack.platform("GET", method_path)
        return body if status == 200 and body["status"] == "verified" else None

    assert wait_until(verified, 60, "the missed verification to be recovered")["customer_id"] == (
        customer
    )

    # The platform was told of the recovered verification ...
    def told_verified():
        return [
            n["notification_id"]
            for n in notifications(stack, platform_inbox, account_a)
            if n["type"] == "payment_method.updated" and n["status"] == "verified"
        ]

    assert wait_until(told_verified, 30, "the verification to be told") == [
        f"{account_a}.{bank_account}.v1"
    ]
    # ... and of each step of the account, once, in order.
    told = {
        account: [
            (n["type"], n["notification_id"], n["status"])
            for n in notifications(stack, platform_inbox, account)
            if n["type"].startswith("account.")
        ]
        for account in (account_a, account_c)
    }
    assert told == {
        account_a: [
            ("account.pending_authorization", f"{account_a}.v1", "pending_authorization"),
            ("account.connected", f"{account_a}.v2", "connected"),
        ],
        account_c: [
            ("account.pending_authorization", f"{account_c}.v1", "pending_authorization"),
        ],
    }
    first = notifications(stack, platform_inbox, account_a)[0]
    assert (first["imported_at"], first["connected_at"]) == (pending["imported_at"], None)
