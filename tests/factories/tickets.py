"""Builders for the tickets slice (mixed into `Factory`)."""


class TicketsBuilders:
    pass
