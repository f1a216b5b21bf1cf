"""Hand-offs to the thread pool (issue 11): each costs a thread switch and a fight for the GIL,
which under load costs more than a short read itself (bench/README.md). An anonymous reader of
a public list (the status page's audience) needs none on SQLite, whose pool never makes the
event loop wait for a connection; on PostgreSQL the read itself still goes to a thread."""

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from app.models.user import Role
from tests.conftest import is_postgres


@pytest.fixture
def hops(monkeypatch):
    seen: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(function, *args, **kwargs):
        seen.append(function)
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


@pytest.fixture
def real_client(app, engine):
    """The app with its own session dependency (the suite's `client` swaps in a synchronous
    one, bound to the test's transaction, which would count two hops of its own). These
    requests only read."""
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("path", ["/incidents", "/maintenance", "/status"])
def test_an_anonymous_read_of_a_public_list_needs_no_thread(real_client, hops, path):
    response = real_client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert len(hops) == (1 if is_postgres() else 0), hops


def test_a_signed_in_read_of_a_record_hands_only_authentication_to_a_thread(client, make, hops):
    """Authentication may write (a session seen, a cookie renewed), so it runs in a thread; the
    record's loader and the route then read in the event loop on the connection it took."""
    institution = make.institution()
    liaison = make.user(Role.liaison, institution.code)
    ticket = make.ticket(liaison)
    headers = make.headers(liaison)
    for path in (f"/institutions/{institution.code}", f"/tickets/{ticket.number}"):
        hops.clear()
        assert client.get(path, headers=headers).status_code == 200
        # The suite's `client` opens its test-transaction session in a thread, twice.
        ours = [h for h in hops if "GeneratorContextManager" not in repr(h)]
        assert len(ours) == 1 and "_user" in repr(ours[0]), ours
