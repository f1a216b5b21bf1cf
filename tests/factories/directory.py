"""Builders for the directory slice (mixed into `Factory`)."""


class DirectoryBuilders:
    pass
