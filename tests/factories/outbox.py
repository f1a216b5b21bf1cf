"""Builders for the outbox slice (mixed into `Factory`)."""


class OutboxBuilders:
    pass
