"""Builders for the outbox slice (mixed into `Factory`)."""

from sqlmodel import Session

from app.models.outbox import OutboxMessage
from app.notify.outbox import enqueue


class OutboxBuilders:
    session: Session

    def outbox_message(
        self, to: str | list[str] = "liaison@test.example.edu", **values
    ) -> OutboxMessage:
        """A queued test message (template `outbox/test`); `values` override enqueue's."""
        values.setdefault("template", "outbox/test")
        values.setdefault("context", {"name": "Pat Liaison", "note": "Nothing to do."})
        message = enqueue(self.session, to=to, **values)
        self.session.commit()
        return message
