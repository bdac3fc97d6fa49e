"""Reading a migration's file of accounts: every row checked with the service's own rules."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount, pending_authorization
from chalicelib.domain.imports import (
    BadRow,
    Import,
    ImportRow,
    UnreadableFile,
    decode,
    file_format,
    import_decision,
    parse_file,
)

HEADER = "company_id,account_id,email,livemode\n"
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,19}", fullmatch=True)
accounts = st.from_regex(r"acct_[A-Za-z0-9]{1,20}", fullmatch=True)
emails = st.none() | st.from_regex(r"[a-z]{1,10}@[a-z]{1,10}\.test", fullmatch=True)


def rows_of(text: str, fmt: str = "csv", livemode: bool = False):
    parsed = parse_file(text, fmt, livemode)
    return list(parsed.rows), [str(b) for b in parsed.bad]


@given(
    st.lists(
        st.tuples(ids, accounts, emails),
        min_size=1,
        max_size=8,
        unique_by=(
            lambda r: r[0],
            lambda r: r[1],
        ),
    )
)
def test_what_is_written_as_csv_or_json_lines_reads_back_the_same(records):
    csv_text = HEADER + "".join(f"{c},{a},{e or ''},false\n" for c, a, e in records)
    jsonl = "".join(
        json.dumps({"company_id": c, "account_id": a, "email": e, "livemode": False}) + "\n"
        for c, a, e in records
    )
    expected_csv = [ImportRow(n + 2, c, a, e, False) for n, (c, a, e) in enumerate(records)]
    expected_jsonl = [ImportRow(n + 1, c, a, e, False) for n, (c, a, e) in enumerate(records)]
    assert rows_of(csv_text) == (expected_csv, [])
    assert rows_of(jsonl, "jsonl") == (expected_jsonl, [])


@given(
    st.lists(
        st.tuples(ids, accounts),
        min_size=1,
        max_size=6,
        unique_by=(
            lambda r: r[0],
            lambda r: r[1],
        ),
    ),
    st.data(),
)
def test_a_bad_row_is_named_by_its_line_and_the_others_still_read(good, data):
    bad_cells = data.draw(
        st.sampled_from(
            [
                ("co 1", "acct_1X", "company_id: must be 1-64 letters"),
                ("co_x", "acct_1X!", "account_id: must be a Stripe account id (acct_…)"),
                ("co_x", "", "account_id: is missing"),
                ("co_x", "ACCT_1X", "account_id: must be a Stripe account id (acct_…)"),
            ]
        )
    )
    position = data.draw(st.integers(0, len(good)))
    lines = [f"{c},{a},," for c, a in good]
    company, account, reason = bad_cells
    lines.insert(position, f"{company},{account},,")
    rows, bad = rows_of(HEADER + "\n".join(lines) + "\n")
    assert [(r.company_id, r.account_id) for r in rows] == good
    assert len(bad) == 1 and bad[0].startswith(f"line {position + 2}: {reason}")


def test_line_numbers_count_blank_lines_and_quoted_newlines():
    text = HEADER + '\n"co_1",acct_1A,,\n"co\n2",acct_1B,,\nco_3,acct_1C,,\n'
    rows, bad = rows_of(text)
    assert [(r.line, r.account_id) for r in rows] == [(3, "acct_1A"), (6, "acct_1C")]
    assert bad == ["line 4: company_id: must be 1-64 letters, digits or _.:- characters"]


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("co_1,acct_1A,not-an-email,", "email: must be an email address"),
        ("co_1,acct_1A,,maybe", "livemode: must be true or false"),
        ("co_1,acct_1A,,true", "livemode: is true; this stage is test mode"),
        ("co_1,acct_1A,,,extra", "has 5 cells; the header has 4"),
        (",acct_1A,,", "company_id: is missing"),
    ],
)
def test_each_rule_says_which_field_is_wrong(cells, reason):
    assert rows_of(HEADER + cells + "\n") == ([], [f"line 2: {reason}"])


def test_a_live_stage_takes_live_rows_and_rows_that_say_nothing():
    rows, bad = rows_of(
        HEADER + "co_1,acct_1A,,true\nco_2,acct_1B,,\nco_3,acct_1C,,false\n", livemode=True
    )
    assert [(r.account_id, r.livemode) for r in rows] == [("acct_1A", True), ("acct_1B", True)]
    assert bad == ["line 4: livemode: is false; this stage is live mode"]


def test_an_account_or_a_company_twice_in_a_file_is_a_bad_row():
    text = HEADER + "co_1,acct_1A,,\nco_2,acct_1A,,\nco_1,acct_1B,,\n"
    assert rows_of(text)[1] == [
        "line 3: account_id: acct_1A is already on line 2",
        "line 4: company_id: co_1 is already on line 2",
    ]


def test_json_lines_are_strict_objects_with_known_fields():
    lines = [
        '{"company_id": "co_1", "account_id": "acct_1A", "livemode": "false"}',
        '{"company_id": "co_2", "account_id": "acct_1B", "account_id": "acct_1C"}',
        '["co_3", "acct_1D"]',
        '{"company_id": "co_4", "account_id": "acct_1E", "name": "Acme"}',
        '{"company_id": "co_5", "account_id": 7}',
        '{"company_id": "co_6", "account_id": "acct_1F", "email": 3}',
    ]
    rows, bad = rows_of("\n".join(lines), "jsonl")
    assert [r.account_id for r in rows] == ["acct_1A"]
    assert bad == [
        "line 2: not a JSON object: an object names a key twice",
        "line 3: not a JSON object",
        "line 4: name: is not a known field",
        "line 5: account_id: must be a Stripe account id (acct_…)",
        "line 6: email: must be an email address",
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "no header"),
        ("company_id,account_id,owner\n", "unknown column 'owner'"),
        ("company_id,email\n", "no column 'account_id'"),
        ("company_id,account_id,account_id\n", "a column is named twice"),
        (HEADER, "no rows"),
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_refused(text, said):
    with pytest.raises(UnreadableFile, match=said):
        parse_file(text, "csv", False)


def test_the_format_comes_from_the_name_else_the_first_character():
    assert file_format("a.CSV", "{") == "csv"
    assert file_format("a.ndjson", "c") == "jsonl"
    assert (file_format("export", ' {"a": 1}'), file_format("export", "company_id")) == (
        "jsonl",
        "csv",
    )
    assert decode(b"\xef\xbb\xbfcompany_id") == "company_id"  # a spreadsheet's BOM
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        decode(b"co_\xe9")


ROW = ImportRow(2, "co_1", "acct_1A", "admin@co.test", False)
AT = "2026-12-01T09:00:00.000+00:00"


def stored(status: AccountStatus, company: str = "co_1", account: str = "acct_1A"):
    return ConnectedAccount(account, company, False, AT, status=status)


def test_nothing_stored_is_ever_overwritten():
    pending_other = pending_authorization("acct_1P", "co_1", False, None, AT)
    cases = {
        "new": (None, None, []),
        "another company's": (stored(AccountStatus.CONNECTED, company="co_2"), None, []),
        "its own, connected": (
            stored(AccountStatus.CONNECTED),
            stored(AccountStatus.CONNECTED),
            [],
        ),
        "its own, disconnected": (stored(AccountStatus.DISCONNECTED), None, []),
        "its own, pending": (pending_authorization("acct_1A", "co_1", False, None, AT), None, []),
        "company connected": (None, stored(AccountStatus.CONNECTED, account="acct_1Z"), []),
        "company waits for another": (None, None, [pending_other]),
    }
    outcomes = {name: import_decision(ROW, *case).outcome for name, case in cases.items()}
    assert outcomes == {
        "new": Import.IMPORTED,
        "another company's": Import.REFUSED,
        "its own, connected": Import.UNCHANGED,
        "its own, disconnected": Import.UNCHANGED,
        "its own, pending": Import.UNCHANGED,
        "company connected": Import.REFUSED,
        "company waits for another": Import.REFUSED,
    }


def test_a_pending_account_has_no_access_and_starts_its_history_at_its_import():
    account = pending_authorization("acct_1A", "co_1", False, "admin@co.test", AT)
    assert (account.status, account.version, account.connected_at) == (
        AccountStatus.PENDING_AUTHORIZATION,
        1,
        None,
    )
    assert not account.has_access and not account.is_active and account.is_pending
    assert [(s.status, s.at) for s in account.history] == [("pending_authorization", AT)]
    assert account.known_since == AT


def test_bad_rows_read_as_the_operator_sees_them():
    assert str(BadRow(7, "email: must be an email address")) == (
        "line 7: email: must be an email address"
    )
