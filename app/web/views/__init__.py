"""Per-resource view functions: the context a page or fragment needs beside the data.

`shared(..., context=views.x.y)` calls them only for page and fragment requests; JSON never
builds a UI-only field.
"""
