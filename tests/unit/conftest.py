"""Reports how many delivery schedules the property tests of the repair engine ran."""

import sys


def pytest_terminal_summary(terminalreporter) -> None:
    module = sys.modules.get("tests.unit.test_repair_schedules")
    count = module.schedules_run["count"] if module else 0
    if count:
        terminalreporter.write_line(f"repair engine: {count} delivery schedules checked")
