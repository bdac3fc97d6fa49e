"""Importing the accounts a migration brought over, each as `pending_authorization`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.domain.imports import BadRow, Import, ImportDecision, ImportRow, import_decision
from chalicelib.services.accounts import Accounts


@dataclass(frozen=True)
class Checked:
    """Every row of the file, against the rules and against what is stored."""

    ready: tuple[tuple[ImportRow, ImportDecision], ...]  # imported or unchanged if written now
    bad: tuple[BadRow, ...]  # by line; never written


def check(
    accounts: Accounts,
    rows: Sequence[ImportRow],
    bad: Sequence[BadRow],
    on_row: Callable[[], None] = lambda: None,
) -> Checked:
    """Reads only: which rows would be imported, which are already there, which may not be."""
    ready: list[tuple[ImportRow, ImportDecision]] = []
    refused: list[BadRow] = list(bad)
    for row in rows:
        found = accounts.get(row.account_id)
        active = accounts.connected_for_company(row.company_id)
        active = active if active is not None and active.is_active else None
        pending = [a for a in accounts.records.for_company(row.company_id) if a.is_pending]
        decision = import_decision(row, found, active, pending)
        if decision.outcome is Import.REFUSED:
            refused.append(BadRow(row.line, decision.reason))
        else:
            ready.append((row, decision))
        on_row()
    return Checked(tuple(ready), tuple(sorted(refused, key=lambda b: b.line)))


def write(
    accounts: Accounts,
    ready: Sequence[tuple[ImportRow, ImportDecision]],
    at: str,
    on_row: Callable[[], None] = lambda: None,
) -> list[tuple[ImportRow, ImportDecision]]:
    """Each row in its own transaction, checked again there: what the store decided."""
    done = []
    for row, _ in ready:
        done.append((row, accounts.import_pending(row, at)))
        on_row()
    return done
