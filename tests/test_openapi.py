"""The OpenAPI document: frozen by a snapshot, valid, and true to the contract of DESIGN.md §3/§5.

The general rules run over every operation, so a new slice is checked without editing this file;
the foundation's own routes are checked by name.
"""

import difflib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from app.main import ROUTERS

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"
UPDATE = "UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_openapi.py"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
UI_ONLY = ["/", "/login", "/logout", "/institutions/new", "/institutions/{code}/edit"]


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict:
    """The document as a client receives it (a JSON round trip, like the snapshot)."""
    return json.loads(json.dumps(app.openapi()))


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def success(operation: dict) -> tuple[str, dict]:
    return next((s, r) for s, r in operation["responses"].items() if s.startswith("2"))


def json_schema(response: dict) -> dict:
    return response.get("content", {}).get("application/json", {}).get("schema", {})


def dump(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_document_matches_the_snapshot(document):
    current = dump(document)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    if not SNAPSHOT.exists():
        pytest.fail(f"No snapshot at {SNAPSHOT}; create it with: {UPDATE}")
    frozen = SNAPSHOT.read_text(encoding="utf-8")
    if json.loads(frozen) != document:
        diff = difflib.unified_diff(
            frozen.splitlines(), current.splitlines(), "snapshot", "app.openapi()", lineterm=""
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            "The OpenAPI document changed. If the change is intended, update the snapshot with\n"
            f"    {UPDATE}\nand commit tests/snapshots/openapi.json.\n{shown}"
        )


def test_the_snapshot_is_sorted_pretty_json():
    """The file stays reviewable: one canonical layout, so diffs show only real changes."""
    frozen = SNAPSHOT.read_text(encoding="utf-8")
    assert frozen == dump(json.loads(frozen)), f"Rewrite it with: {UPDATE}"


def test_the_document_is_valid_openapi(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises OpenAPIValidationError with the offending path


# --- general rules: every operation, including those added by later slices ---------------------


def shared_routes() -> list[tuple[str, str]]:
    """(METHOD, path) of every documented API route wrapped by `render.shared`.

    `functools.wraps` copies the name, not the code: the wrapper's code lives in render.py.
    """
    return [
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.include_in_schema
        and hasattr(route.endpoint, "__shared__")
        for method in route.methods
    ]


def test_the_shared_routes_are_found():
    """Guards the next test: if the marker stopped working it would check nothing."""
    assert {("GET", "/institutions"), ("PATCH", "/institutions/{code}")} <= set(shared_routes())
    assert ("GET", "/auth/me") not in shared_routes()


def test_every_shared_route_lists_json_and_html_for_its_success(document):
    missing = []
    for method, path in shared_routes():
        status, response = success(document["paths"][path][method.lower()])
        types = set(response.get("content", {}))
        if status != "204" and not {"application/json", "text/html"} <= types:
            missing.append(f"{method} {path} {status}: {sorted(types)}")
    assert not missing, "use route_class=SharedRoute: " + str(missing)


def test_html_is_only_offered_beside_json(document):
    """A route that can answer a page also answers JSON for the same status (§5)."""
    wrong = [
        f"{method} {path} {status}"
        for method, path, operation in operations(document)
        for status, response in operation["responses"].items()
        if "text/html" in response.get("content", {})
        and "application/json" not in response["content"]
    ]
    assert not wrong


def test_every_error_response_is_a_problem(document):
    wrong = [
        f"{method} {path} {status}: {response.get('content')}"
        for method, path, operation in operations(document)
        for status, response in operation["responses"].items()
        if status[0] in "45" and response.get("content") != PROBLEM
    ]
    assert not wrong, "use problem_responses(...) from app.web.problems: " + "\n".join(wrong)


def test_the_problem_schema_has_the_rfc_9457_members(document):
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])
    assert {"title", "status", "detail"} <= set(problem["required"])
    field = document["components"]["schemas"]["FieldProblem"]
    assert {"field", "message"} <= set(field["required"])
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_addressed_resource_documents_404(document):
    """A client asking for `/things/{id}` must be told an unknown (or hidden) id answers 404."""
    missing = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if "{" in path and "404" not in operation["responses"]
    ]
    assert not missing


def test_every_body_documents_its_validation_errors(document):
    """Malformed JSON answers 400 and an invalid body 422, both as problems."""
    missing = []
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        needed = {"422"} | ({"400"} if "application/json" in content else set())
        if content and not needed <= set(operation["responses"]):
            missing.append(f"{method} {path}: {sorted(needed - set(operation['responses']))}")
    assert not missing


def test_every_list_is_a_page(document):
    """A JSON list answers `{data, count, next}` (§5), never a bare array."""
    bare = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        if json_schema(success(operation)[1]).get("type") == "array"
    ]
    assert not bare, "answer Page[...] from app.core.pagination"
    for name, schema in document["components"]["schemas"].items():
        if name.startswith("Page_"):
            assert {"data", "count", "next"} <= set(schema["properties"]), name


def test_ui_only_routes_are_not_documented(document):
    assert not set(UI_ONLY) & set(document["paths"])
    assert not [p for p in document["paths"] if p.endswith(("/new", "/edit"))]


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))


# --- the foundation's routes, by name ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/institutions"),
        ("post", "/institutions"),
        ("get", "/institutions/{code}"),
        ("patch", "/institutions/{code}"),
        ("get", "/audit"),
    ],
)
def test_the_foundations_shared_routes_offer_json_and_html(document, method, path):
    status, response = success(document["paths"][path][method])
    assert status == ("201" if method == "post" else "200")
    assert {"application/json", "text/html"} <= set(response["content"])


def test_auth_token_is_an_oauth2_password_and_client_credentials_grant(document):
    operation = document["paths"]["/auth/token"]["post"]
    body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    form = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"username", "password", "client_id", "client_secret"} <= set(form["properties"])
    grant = form["properties"]["grant_type"]["anyOf"][0]["pattern"]
    assert grant == "^(password|client_credentials)$"
    token = success(operation)[1]["content"]["application/json"]["schema"]["$ref"]
    token = document["components"]["schemas"][token.rsplit("/", 1)[1]]
    assert {"access_token", "token_type", "expires_in"} <= set(token["required"])
    assert token["properties"]["token_type"]["const"] == "bearer"
    assert "401" in operation["responses"]
    schemes = document["components"]["securitySchemes"]
    password = schemes["OAuth2PasswordBearer"]["flows"]["password"]
    assert password == {"scopes": {}, "tokenUrl": "/auth/token"}
    clients = schemes["ClientCredentials"]["flows"]["clientCredentials"]
    assert clients["tokenUrl"] == "/auth/token" and "tickets:read" in clients["scopes"]


def test_the_institution_contract(document):
    schemas = document["components"]["schemas"]
    public = schemas["InstitutionPublic"]["properties"]
    contract = {"code", "name", "city", "kind", "status", "alma_code", "joined_on", "left_on"}
    assert contract | {"website"} <= set(schemas["InstitutionPublic"]["required"])
    assert public["code"]["type"] == "string"
    kinds = schemas["InstitutionKind"]["enum"]
    assert kinds == [
        "public_university",
        "private_college",
        "community_college",
        "library_or_museum",
        "other",
    ]
    assert schemas["InstitutionStatus"]["enum"] == [
        "prospective",
        "joining",
        "active",
        "leaving",
        "former",
    ]
    listed = success(document["paths"]["/institutions"]["get"])[1]
    page = listed["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[page]["properties"]["data"]["items"]["$ref"].endswith("/InstitutionPublic")
    parameters = {p["name"] for p in document["paths"]["/institutions"]["get"]["parameters"]}
    assert {"limit", "offset", "q", "status", "kind", "sort"} <= parameters


def test_the_user_contract(document):
    me = success(document["paths"]["/auth/me"]["get"])[1]["content"]["application/json"]
    assert me["schema"]["$ref"].endswith("/UserPublic")
    user = document["components"]["schemas"]["UserPublic"]
    assert {"id", "email", "name", "role", "institution"} <= set(user["required"])
    assert "password_hash" not in user["properties"]
    roles = document["components"]["schemas"]["Role"]["enum"]
    assert roles == ["consortium_admin", "consortium_staff", "director", "liaison", "library_staff"]
