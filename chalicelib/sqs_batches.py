"""What an SQS handler gives Lambda about a batch, with or without ReportBatchItemFailures.

`chalice deploy` makes event source mappings without that setting: Lambda then ignores what the
handler returns and deletes the whole batch unless the handler raises. So, by default, a
handler deletes each message it handled itself and raises for the rest (BatchIncomplete).
Where the mapping has the setting (the merge template of `python -m ops snapstart-template`
adds it with SQS_REPORT_BATCH_ITEM_FAILURES=true), the same failures are returned as
{"batchItemFailures": [...]} instead: the invocation succeeds, only those messages come back,
and Lambda does not scale the queue's pollers down as it does after a failed invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class BatchIncomplete(Exception):
    """Some messages of the batch failed; they go back to the queue for another try."""

    def __init__(self, failed_ids: list[str]) -> None:
        super().__init__(f"{len(failed_ids)} message(s) failed: {', '.join(failed_ids)}")
        self.failed_ids = failed_ids


def answer(run: Callable[[], object], reports_item_failures: bool) -> dict[str, Any] | None:
    """Run the batch; what the handler returns to Lambda (or the BatchIncomplete it raises)."""
    if not reports_item_failures:
        run()
        return None
    try:
        run()
    except BatchIncomplete as incomplete:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in incomplete.failed_ids]}
    return {"batchItemFailures": []}
