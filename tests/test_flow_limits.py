"""Every flow and task has a time limit that fits what it does, so one stuck step ends
instead of holding the schedule (and the program's lock) for ever."""

from __future__ import annotations

from flows import collect_status, fan_out, reports, supervise
from prefect import Flow, Task

from pilot_tracker.ledger.program_file import MAX_MAILBOX_DEADLINE, MAX_SOURCE_DEADLINE


def declared() -> dict[str, Flow | Task]:
    found: dict[str, Flow | Task] = {}
    for module in (collect_status, supervise, reports, fan_out):
        for value in vars(module).values():
            if isinstance(value, Flow | Task):
                found[value.name] = value
    return found


def test_every_flow_and_task_has_a_timeout() -> None:
    found = declared()
    assert set(found) == {
        "collect-status",
        "pull-http-source",
        "pull-mailbox",
        "file-mail",
        "pull-inbox-folders",
        "flag-and-escalate",
        "flag-laggards",
        "send-alerts",
        "check-calendar",
        "supervise",
        "quarterly-reconciliation",
        "half-year-evaluation",
        "write-report",
        "supervise-all",
        "quarterly-reconciliation-all",
        "half-year-evaluation-all",
        "run-program",
        "city-rollup-all",
        "write-city-report",
    }
    limits = {name: item.timeout_seconds for name, item in found.items()}
    assert all(limits.values()), limits
    # A pull ends by its own deadline first, with a clear reason; Prefect's limit is the
    # backstop. A flow allows for what it runs.
    assert limits["pull-http-source"] > MAX_SOURCE_DEADLINE
    assert limits["pull-mailbox"] > MAX_MAILBOX_DEADLINE
    assert limits["supervise"] >= (
        limits["collect-status"] + limits["flag-laggards"] + limits["send-alerts"]
    )
    writing = found["write-report"]
    assert isinstance(writing, Task) and writing.retries
    assert limits["quarterly-reconciliation"] >= limits["write-report"] + limits["send-alerts"]
    # A program's run waits for a slot of the concurrency limit, then runs within its own
    # limit; the parent outlasts both, to record the failures and name them.
    for child in ("supervise", "quarterly-reconciliation", "half-year-evaluation"):
        assert limits["run-program"] >= fan_out.SLOT_WAIT_SECONDS + limits[child]
    for parent in ("supervise-all", "quarterly-reconciliation-all", "half-year-evaluation-all"):
        assert limits[parent] > limits["run-program"]
    # The cities' roll-ups are written one after another, then sent.
    city = found["write-city-report"]
    assert isinstance(city, Task) and city.retries
    assert limits["city-rollup-all"] >= 2 * limits["write-city-report"] + limits["send-alerts"]


def test_http_pulls_are_retried_with_jitter() -> None:
    task = declared()["pull-http-source"]
    assert task.retries == 2 and task.retry_jitter_factor


def test_mailbox_pulls_are_retried_with_jitter_and_a_bug_is_not() -> None:
    task = declared()["pull-mailbox"]
    assert task.retries == 2 and task.retry_jitter_factor
    assert task.retry_condition_fn is not None
