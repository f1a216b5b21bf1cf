"""Builders for test data, written straight to the test's session: `make.institution()`, …

Each slice keeps its builders in its own module here; `Factory` mixes them together.
"""

from dataclasses import dataclass

from sqlmodel import Session

from tests.factories.core import PASSWORD, CoreBuilders
from tests.factories.directory import DirectoryBuilders
from tests.factories.maintenance import MaintenanceBuilders
from tests.factories.outbox import OutboxBuilders
from tests.factories.tickets import TicketsBuilders

__all__ = ["PASSWORD", "Factory"]


@dataclass
class Factory(
    CoreBuilders, DirectoryBuilders, TicketsBuilders, MaintenanceBuilders, OutboxBuilders
):
    session: Session
