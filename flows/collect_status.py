"""Flow ``collect-status``: pull every unit's sources and take in what they sent.

HTTP sources are pulled in parallel tasks, each with jittered retries, a timeout and the tag
``http-source`` (set a limit across runs with ``prefect concurrency-limit create
http-source 4``); within a run at most four run at once. Inbox folders are read in one
task. The office's mailbox, where the program has one, is pulled in its own task (retries,
a timeout from its deadline) beside them; each mail is taken in its own transaction, and
filed in the mailbox's processed folder only after that commits. Intake then runs one
payload at a time, so a single writer touches the database.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import opened, retry_on
from pilot_tracker import runs
from pilot_tracker.collect import collection, replies
from pilot_tracker.collect.collection import Broken, CollectionResult
from pilot_tracker.collect.http import HttpSource
from pilot_tracker.collect.inbox import FolderSource
from pilot_tracker.collect.mailbox import MailboxSource, MailPull
from pilot_tracker.collect.reader import ReaderProcess
from pilot_tracker.collect.sources import Pull, Pulled, Source
from pilot_tracker.errors import SourceRefused
from pilot_tracker.ledger.program_file import MAX_MAILBOX_DEADLINE, MAX_SOURCE_DEADLINE

# A pull ends by its own deadline (at most MAX_SOURCE_DEADLINE s) with a clear reason; the
# task's limit is the backstop, set per source when it is submitted.
PULL_MARGIN_SECONDS = 30


@task(
    name="pull-http-source",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,  # sources that failed together do not come back in step
    retry_condition_fn=retry_on(*collection.SOURCE_FAILURES),  # a bug fails at once
    timeout_seconds=MAX_SOURCE_DEADLINE + PULL_MARGIN_SECONDS,
    tags=["http-source"],
    cache_policy=NO_CACHE,
)
def pull_http(source: HttpSource) -> Pull:
    """One GET; a source that stays down after the retries marks its unit unavailable."""
    try:
        return Pull(source.unit, source.kind, pulled=[Pulled(source.fetch())])
    except SourceRefused as refused:  # the program file must change; retrying cannot help
        return Pull(source.unit, source.kind, error=str(refused))


@task(
    name="pull-mailbox",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*collection.SOURCE_FAILURES),
    timeout_seconds=MAX_MAILBOX_DEADLINE + PULL_MARGIN_SECONDS,
    cache_policy=NO_CACHE,
)
def pull_mailbox(mailbox: MailboxSource, known: Callable[[str], bool]) -> MailPull:
    """The office's new mail, fetched whole; filed only after it is taken."""
    return mailbox.pull(known)


@task(
    name="file-mail",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*collection.SOURCE_FAILURES),
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def file_mail(mailbox: MailboxSource, uids: list[int], uidvalidity: int) -> None:
    """Move the mail taken to the processed folder."""
    mailbox.file(uids, uidvalidity)


@task(name="pull-inbox-folders", timeout_seconds=600, cache_policy=NO_CACHE)
def pull_folders(sources: list[Source], settle_seconds: float) -> list[Pull]:
    return collection.pull_folders(
        sources, settle_seconds=settle_seconds, sleep=time.sleep, now=datetime.now(UTC)
    )


def _pull_within(source: HttpSource):
    """``pull_http`` with a time limit that fits this source's deadline."""
    return pull_http.with_options(timeout_seconds=source.spec.deadline + PULL_MARGIN_SECONDS)


# Four pulls at once, each at worst three tries of its deadline: an hour covers a program's
# 30-odd units; a run still going then is stuck.
@flow(
    name="collect-status",
    task_runner=ThreadPoolTaskRunner(max_workers=4),
    timeout_seconds=3600,
)
def collect_status(
    program: str, as_of: date | None = None, settle_seconds: float = 1.0
) -> CollectionResult:
    """Collect once for every unit of ``program``; return the import summary."""
    logger = get_run_logger()
    with opened() as run:
        settings, engine = run.settings, run.engine
        day = as_of or run.today(program)
        started = datetime.now(UTC)
        sources = collection.open_sources(
            engine=engine,
            program=program,
            inbox=settings.inbox,
            environ=os.environ,
            attempts=1,  # Prefect retries the task instead
        )
        http = [
            (source, _pull_within(source).submit(source))
            for source in sources
            if isinstance(source, HttpSource)
        ]
        mailbox = collection.open_mailbox(engine=engine, program=program, environ=os.environ)
        mail = None
        if mailbox is not None:
            known = replies.known_messages(engine=engine, program=program)
            mail = pull_mailbox.with_options(
                timeout_seconds=mailbox.spec.deadline + PULL_MARGIN_SECONDS
            ).submit(mailbox, known)
        pulls = pull_folders([s for s in sources if isinstance(s, FolderSource)], settle_seconds)
        broken: list[Broken] = []
        for source, future in http:
            try:
                pulls.append(future.result())
            except collection.SOURCE_FAILURES as error:  # down after the retries, or too slow
                pulls.append(collection.down(source, error))
            except Exception as error:  # a bug of ours: the run's error, not the unit's
                broken.append(Broken(source.unit, source.kind, error))

        with ReaderProcess() as reader:  # started only for a backlog: collect.reader
            result = collection.take(
                engine=engine,
                program=program,
                pulls=pulls,
                as_of=day,
                now=datetime.now(UTC),
                home=settings.home,
                templates=run.templates,
                not_taken=collection.survey(engine=engine, program=program, inbox=settings.inbox),
                inbox_wait=timedelta(minutes=settings.inbox_wait_minutes),
                broken=broken,
                reader=reader,
            )
        if mailbox is not None and mail is not None:
            try:
                pulled, error = mail.result(), None
            # refused (the set-up must change) or down after the retries
            except collection.SOURCE_FAILURES as failure:
                pulled, error = None, failure
            filed = collection.take_mailbox(
                result,
                engine=engine,
                program=program,
                pull=pulled,
                error=error,
                as_of=day,
                now=datetime.now(UTC),
                home=settings.home,
                templates=run.templates,
            )
            if pulled is not None and filed:
                try:
                    file_mail(mailbox, filed, pulled.uidvalidity)
                except collection.SOURCE_FAILURES as failure:  # on record: filed next run
                    logger.warning(collection.UNFILED, len(filed), failure)
        faults = set(result.error_lines())  # a fault of ours, not the unit's; traceback logged
        for line in result.lines():
            if line in faults:
                logger.error(line)
            else:
                logger.info(line)
        logger.info(
            "%s: %d submissions, %d units unavailable, %d files left for the next run, "
            "%d not taken from the inbox, %d mail",
            program,
            len(result.submissions),
            len(result.unavailable),
            len(result.waiting),
            len(result.not_taken),
            len(result.mail),
        )
        runs.record(
            engine=engine,
            program=program,
            flow="collect-status",
            as_of=day,
            started=started,
            finished=datetime.now(UTC),
            outcome=result.outcome,
            summary={
                "submissions": len(result.submissions),
                "unavailable": [item.unit for item in result.unavailable]
                + (["mailbox"] if result.mailbox_error is not None else []),
                "errors": result.errors,
            },
        )
    return result


if __name__ == "__main__":
    import sys

    collect_status(sys.argv[1])
