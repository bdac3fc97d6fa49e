"""Accounts brought over by a migration: reading the operator's file, and whether each row may
be imported, as `pending_authorization`, given what is stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import parse_account_id, parse_email
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.json_input import parse_json
from chalicelib.domain.payment_requests import parse_id

REQUIRED_FIELDS = ("company_id", "account_id")
OPTIONAL_FIELDS = ("email", "livemode")
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
FORMATS = ("csv", "jsonl")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class ImportRow:
    line: int  # where the row starts in the file, 1-based (a CSV's header is line 1)
    company_id: str
    account_id: str
    email: str | None
    livemode: bool


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str  # "field: what is wrong", or what the row is about

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class UnreadableFile(Exception):
    """The file as a whole cannot be read (not UTF-8, no header, unknown columns)."""


@dataclass(frozen=True)
class ParsedFile:
    rows: tuple[ImportRow, ...]
    bad: tuple[BadRow, ...]


def file_format(name: str, text: str) -> str:
    """`csv` or `jsonl`, by the file's extension, else by its first character."""
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's CSV may start with a BOM
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 (byte {error.start})") from None


def parse_file(text: str, fmt: str, stage_livemode: bool) -> ParsedFile:
    """Every row checked with the service's own rules; nothing is half-read or skipped quietly.

    A row is bad when a field breaks a rule, its mode is not the stage's, or its account or
    company already appears on an earlier line of the file.
    """
    if fmt not in FORMATS:
        raise UnreadableFile(f"unknown format {fmt!r} (csv or jsonl)")
    records = _csv_records(text) if fmt == "csv" else _jsonl_records(text)
    rows: list[ImportRow] = []
    bad: list[BadRow] = []
    accounts: dict[str, int] = {}
    companies: dict[str, int] = {}
    for line, record in records:
        if isinstance(record, BadRow):
            bad.append(record)
            continue
        try:
            row = parse_row(line, record, stage_livemode)
        except InvalidInput as invalid:
            bad.append(BadRow(line, str(invalid)))
            continue
        if row.account_id in accounts:
            bad.append(
                BadRow(
                    line,
                    f"account_id: {row.account_id} is already on line {accounts[row.account_id]}",
                )
            )
            continue
        if row.company_id in companies:
            bad.append(
                BadRow(
                    line,
                    f"company_id: {row.company_id} is already on line {companies[row.company_id]}",
                )
            )
            continue
        accounts[row.account_id] = companies[row.company_id] = line
        rows.append(row)
    if not rows and not bad:
        raise UnreadableFile("no rows")
    return ParsedFile(tuple(rows), tuple(bad))


def parse_row(line: int, record: dict[str, Any], stage_livemode: bool) -> ImportRow:
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field")
    for name in REQUIRED_FIELDS:
        if record.get(name) in (None, ""):
            raise InvalidInput(name, "is missing")
    company_id = parse_id(record["company_id"], "company_id")
    account_value = record["account_id"]
    if not isinstance(account_value, str):
        raise InvalidInput("account_id", "must be a Stripe account id (acct_…)")
    account_id = parse_account_id(account_value)
    email = record.get("email")
    if email in (None, ""):
        email = None
    elif not isinstance(email, str):
        raise InvalidInput("email", "must be an email address")
    else:
        email = parse_email(email, "email")
    livemode = _livemode(record.get("livemode"), stage_livemode)
    if livemode != stage_livemode:
        mode = "live" if stage_livemode else "test"
        raise InvalidInput("livemode", f"is {str(livemode).lower()}; this stage is {mode} mode")
    return ImportRow(line, company_id, account_id, email, livemode)


def _livemode(value: Any, stage_livemode: bool) -> bool:
    if value is None or value == "":
        return stage_livemode  # not given: the stage's own mode
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput("livemode", "must be true or false")


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise UnreadableFile(f"line 1: {error}") from None
    if header is None or not any(cell.strip() for cell in header):
        raise UnreadableFile("line 1: no header (company_id,account_id,email,livemode)")
    columns = [cell.strip() for cell in header]
    unknown = [c for c in columns if c not in FIELDS]
    if unknown:
        known = ", ".join(FIELDS)
        raise UnreadableFile(f"line 1: unknown column {unknown[0]!r} (columns: {known})")
    missing = [c for c in REQUIRED_FIELDS if c not in columns]
    if missing:
        raise UnreadableFile(f"line 1: no column {missing[0]!r}")
    if len(set(columns)) != len(columns):
        raise UnreadableFile("line 1: a column is named twice")
    ended = reader.line_num
    while True:
        start = ended + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            ended = reader.line_num
            yield start, BadRow(start, f"not CSV: {error}")
            continue
        ended = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if len(cells) != len(columns):
            yield start, BadRow(start, f"has {len(cells)} cells; the header has {len(columns)}")
            continue
        yield start, {c: v.strip() for c, v in zip(columns, cells, strict=True)}


def _jsonl_records(text: str) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except ValueError as error:
            yield number, BadRow(number, f"not a JSON object: {_first_line(error)}")
            continue
        if not isinstance(record, dict):
            yield number, BadRow(number, "not a JSON object")
            continue
        yield number, record


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Import(StrEnum):
    """What importing one row does, given what is stored."""

    IMPORTED = "imported"  # stored, pending authorisation
    UNCHANGED = "unchanged"  # the company already has this very account: nothing to do
    REFUSED = "refused"  # it would overwrite another company's account or the company's own


@dataclass(frozen=True)
class ImportDecision:
    outcome: Import
    reason: str


def import_decision(
    row: ImportRow,
    found: ConnectedAccount | None,
    active: ConnectedAccount | None,
    pending: Sequence[ConnectedAccount],
) -> ImportDecision:
    """Row `row` against the stored account `found`, the company's active account and its
    pending ones. Nothing stored is ever overwritten: not even this account's own record."""
    if found is not None and found.company_id != row.company_id:
        return ImportDecision(Import.REFUSED, f"account_id: {row.account_id} is another company's")
    if found is not None:
        return ImportDecision(Import.UNCHANGED, f"{row.account_id} is already {found.status}")
    if active is not None:
        return ImportDecision(
            Import.REFUSED, f"company_id: {row.company_id} has a connected account already"
        )
    others = [a.account_id for a in pending if a.account_id != row.account_id]
    if others:
        return ImportDecision(
            Import.REFUSED,
            f"company_id: {row.company_id} already has {others[0]} pending authorisation",
        )
    return ImportDecision(Import.IMPORTED, f"{row.account_id} pending authorisation")
