"""What the bot says on its console under load is what an operator needs, not a libraries' running commentary."""

from __future__ import annotations

import logging

import pytest

import bot.app  # noqa: F401 - installs the filters


def test_a_tick_skipped_while_its_job_still_runs_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = logging.getLogger("apscheduler.scheduler")
    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        scheduler.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)', "send", 1)
        scheduler.warning("Run time of job %s was missed by %s", "send", "0:00:05")
    assert [r.getMessage() for r in caplog.records] == ["Run time of job send was missed by 0:00:05"]
