"""Builders for the maintenance slice (mixed into `Factory`)."""


class MaintenanceBuilders:
    pass
