"""What tests of every reach share: one local AWS for the whole pytest process."""

from collections.abc import Iterator

import pytest

from local.aws import LocalAws


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAws]:
    # moto keeps one state per process whatever the number of servers, so one server serves
    # all; each test folder deploys the template under a ServiceName of its own.
    with LocalAws(port=0) as local:
        yield local
