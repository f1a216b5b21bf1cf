"""Health, readiness, request ids and structured logs."""

import json
import logging

from sqlalchemy.exc import OperationalError

from app.core.logging import JsonFormatter


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def test_readyz_reports_an_unreachable_database(client, monkeypatch):
    from app.api import health

    class Down:
        def connect(self):
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(health, "get_engine", lambda: Down())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123-def"})
    assert echoed.headers["x-request-id"] == "abc-123-def"
    refused = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert refused.headers["x-request-id"] != "bad id\nwith newline"


def test_problems_name_the_request_id(client):
    response = client.get("/institutions", headers={"X-Request-ID": "trace-me-please"})
    assert response.json()["request_id"] == "trace-me-please"


def test_each_request_is_logged_once_with_its_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get("/healthz", headers={"X-Request-ID": "log-line-id"})
    records = [r for r in caplog.records if r.name == "app.access"]
    assert len(records) == 1
    record = records[0]
    assert (record.method, record.path, record.status) == ("GET", "/healthz", 200)
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/healthz"
    assert line["level"] == "info"
    assert isinstance(line["duration_ms"], float)


def test_logs_never_contain_the_authorization_header(client, staff, caplog):
    token = staff["Authorization"].split()[1]
    with caplog.at_level(logging.DEBUG):
        assert client.get("/institutions", headers=staff).status_code == 200
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert token not in formatted


def test_an_unexpected_error_is_a_500_problem_without_internals():
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text
    assert response.json()["request_id"]


def test_no_async_dependency_queries_the_database():
    """An async dependency that queries holds a pooled connection on the event loop while the
    request goes on in a thread; with the pool empty, the next checkout blocks the loop itself
    (a deadlock until the pool times out). Dependencies that take a session are plain `def`,
    or async only to skip the thread hop when they need no query, handing any query to the
    thread pool (`require_scope`, `get_optional_user`: anonymous requests pass without one),
    or loaders made by `read_only`, which read in the loop only when no checkout can wait
    (`reads_without_waiting`: the session holds its connection already, or SQLite)."""
    import inspect

    from app.web import deps

    hands_queries_to_the_pool = {"require_scope", "get_optional_user"}
    for name in hands_queries_to_the_pool:
        assert "run_in_threadpool(" in inspect.getsource(getattr(deps, name))
    assert "reads_without_waiting(" in inspect.getsource(deps.read_only)
    read_only = deps.read_only(lambda session: None).__code__
    offenders = [
        name
        for name, fn in vars(deps).items()
        if inspect.iscoroutinefunction(fn)
        and name not in hands_queries_to_the_pool
        and fn.__code__ is not read_only
        and any(p.annotation is deps.SessionDep for p in inspect.signature(fn).parameters.values())
    ]
    assert offenders == []
