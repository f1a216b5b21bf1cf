"""Schemathesis over every operation of the OpenAPI document, in-process, as a consortium admin.

Each operation is one test (`test_every_operation_conforms[GET /institutions]`, …), so a route a
later slice adds is exercised without editing this file. Every response must be no server error
and conform to the document: a documented status code, content type and body schema.

The demo data is loaded once per module (so lists return rows whose schema is checked too), in a
transaction that is rolled back at the end; each operation runs in a SAVEPOINT of its own.
"""

import re
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app import demo
from app.core.db import get_session
from app.demo import members
from app.main import create_app
from app.services import auth

APP = create_app()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 2026,
        "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Iterator[tuple[Connection, dict[str, str]]]:
    """A connection holding the demo data, and bearer headers for its consortium admin."""
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
            demo.load(session)
            token, _ = auth.start_session(session, members.admin(session), auth.Client())
            session.commit()
        yield conn, {"Authorization": f"Bearer {token}"}
        outer.rollback()


@pytest.fixture
def admin(seeded) -> Iterator[dict[str, str]]:
    """The app on the seeded connection, inside a SAVEPOINT undone after the operation."""
    conn, headers = seeded
    savepoint = conn.begin_nested()

    def session_in_savepoint() -> Iterator[Session]:
        with Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session

    APP.dependency_overrides[get_session] = session_in_savepoint
    yield headers
    APP.dependency_overrides.clear()
    savepoint.rollback()


@schema.parametrize()
# One SAVEPOINT per operation, shared by its examples: they may see each other's writes.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_conforms(case, admin):
    case.call_and_validate(headers=admin, checks=CHECKS)


def nul_probes() -> list[tuple[str, str, str]]:
    """(path, parameter, location) of every free-text GET parameter in the document.

    Hypothesis rarely puts a NUL character in a query string; PostgreSQL refuses it in text.
    """
    probes = []
    for path, item in APP.openapi()["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            options = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
            if parameter["in"] in ("query", "path") and any(
                o.get("type") == "string" and "enum" not in o and "format" not in o for o in options
            ):
                probes.append((path, parameter["name"], parameter["in"]))
    return probes


@pytest.mark.parametrize(("path", "name", "location"), nul_probes())
def test_a_nul_character_in_any_text_parameter_is_a_client_error(admin, path, name, location):
    params = {name: "a\x00b"} if location == "query" else {}
    url = re.sub(r"{(\w+)}", lambda m: "a%00b" if m[1] == name else "1", path)
    with TestClient(APP) as client:
        response = client.get(url, params=params, headers=admin)
    documented = APP.openapi()["paths"][path]["get"]["responses"]
    assert response.status_code < 500
    assert str(response.status_code) in documented, response.text
