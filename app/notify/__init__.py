"""Notifications: the transactional outbox, e-mail rendering and delivery, the worker, jobs.

Other slices call `app.notify.outbox.enqueue(...)` and `app.notify.jobs.register_job(...)`.
"""
