"""Scheduled jobs: periodic work the worker runs, once per period however many workers run.

Register a job at import time in any module of `app.services` or `app.notify` (the worker imports
them all before it starts)::

    from datetime import datetime, timedelta
    from sqlmodel import Session
    from app.notify.jobs import register_job

    def start_and_end_windows(session: Session, period: datetime) -> None:
        ...  # e.g. enqueue(session, ..., dedupe_key=f"maint-remind:{window.id}")

    register_job("maintenance-transitions", every=timedelta(minutes=1), fn=start_and_end_windows)

Periods are aligned on the Unix epoch (`every=timedelta(days=1)` runs once per UTC day) and
`period` is the start of the one being run. Only the current period runs: a period missed while
no worker ran is not caught up, so a job should act on everything due, not only on its period.

Claiming: the worker inserts a `job_run` row whose unique (job, period) key admits one worker;
`fn` runs in that same transaction and the worker commits after it, so the claim, the job's
writes and the e-mails it enqueues commit together. If `fn` raises, all of it rolls back and the
next tick tries the period again. A job that commits itself (by calling services that commit)
keeps its claim from that point on. (APScheduler and its kin schedule within one process; none
claims a period across processes on both SQLite and PostgreSQL, hence this table.)
"""

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.db import utcnow
from app.models.outbox import JobRun

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JobFn = Callable[[Session, datetime], None]


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    fn: JobFn


_registry: dict[str, Job] = {}


def register_job(name: str, *, every: timedelta, fn: JobFn) -> Job:
    """Adds (or, for the same name, replaces) a periodic job."""
    if every < timedelta(seconds=1):
        raise ValueError("a job runs at most once a second")
    job = Job(name=name, every=every, fn=fn)
    _registry[name] = job
    return job


def registered() -> list[Job]:
    return list(_registry.values())


def discover() -> None:
    """Imports every service and notify module, so their `register_job` calls have run."""
    for package_name in ("app.services", "app.notify"):
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")


def period_start(now: datetime, every: timedelta) -> datetime:
    return EPOCH + ((now - EPOCH) // every) * every


class Scheduler:
    """Runs each registered job once per period; remembers the periods it has seen done."""

    def __init__(
        self, bind: Engine | Connection, worker: str, only: list[Job] | None = None
    ) -> None:
        """`only`: these jobs rather than every registered one (tests)."""
        self.bind = bind
        self.only = only
        self.worker = worker
        self._done: dict[str, datetime] = {}

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Runs every job whose current period nobody has claimed yet; returns their names."""
        now = now or utcnow()
        ran = []
        for job in self.only if self.only is not None else registered():
            period = period_start(now, job.every)
            if self._done.get(job.name) == period:
                continue
            if self._run(job, period):
                ran.append(job.name)
        return ran

    def _run(self, job: Job, period: datetime) -> bool:
        with Session(
            self.bind, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            taken = session.exec(
                select(JobRun.id).where(JobRun.job == job.name, JobRun.period == period)
            ).first()
            if taken is not None:
                self._done[job.name] = period
                return False
            run = JobRun(job=job.name, period=period, worker=self.worker)
            session.add(run)
            try:
                session.flush()  # another worker holding this period makes this wait, then fail
            except IntegrityError:
                session.rollback()
                self._done[job.name] = period
                return False
            try:
                job.fn(session, period)
                run.finished_at = utcnow()
                session.add(run)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("job failed", extra={"job": job.name, "period": period})
                return False
        self._done[job.name] = period
        log.info("job ran", extra={"job": job.name, "period": period})
        return True
