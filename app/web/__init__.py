"""What the API routers and the UI pages share: dependencies, representation, problems, caching.

Imports run one way: `app.api` and `app.ui` → `app.web` → `app.services` → `app.models` →
`app.core`.
"""
