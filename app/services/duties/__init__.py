"""Recurring duties and their tasks, by concern:

- `schedule`: the due dates (the RRULE, expanded in one place), whom a duty applies to, and
  the checks a definition must pass
- `definitions`: define, edit, read and list duty templates
- `fanout`: the scheduled job that opens occurrences and creates each library's task once
- `board`: reading tasks: one task, a library's list and home, the completion board
- `completion`: done / not applicable / reopened, and the actions that complete a task
- `attachments`: files that go with a completion (the checks of `app.services.uploads`)
- `reminders`: the scheduled digest e-mails and the director's escalation
- `feeds`: the secret-link iCalendar feeds of tasks

Imports run one way: schedule ← fanout ← definitions; schedule ← board ← completion ←
attachments; board ← feeds; schedule ← reminders. The names routes, pages and other slices use
are re-exported here (importing the package registers both scheduled jobs).
"""

from app.services.duties import attachments
from app.services.duties.board import (
    Board,
    TaskFilter,
    TaskSort,
    board,
    due_tasks,
    get_task,
    institution_names,
    institution_tasks,
    open_boards,
)
from app.services.duties.completion import complete_for_action, update_task
from app.services.duties.definitions import (
    create_duty,
    get_duty,
    instructions_html,
    list_duties,
    occurrences_of,
    public,
    update_duty,
)
from app.services.duties.fanout import fan_out
from app.services.duties.feeds import active_feed, feed_calendar, regenerate_feed, revoke_feed
from app.services.duties.reminders import send_reminders
from app.services.duties.schedule import schedule, today

__all__ = [
    "Board",
    "TaskFilter",
    "TaskSort",
    "active_feed",
    "attachments",
    "board",
    "complete_for_action",
    "create_duty",
    "due_tasks",
    "fan_out",
    "feed_calendar",
    "get_duty",
    "get_task",
    "institution_names",
    "institution_tasks",
    "instructions_html",
    "list_duties",
    "occurrences_of",
    "open_boards",
    "public",
    "regenerate_feed",
    "revoke_feed",
    "schedule",
    "send_reminders",
    "today",
    "update_duty",
    "update_task",
]
