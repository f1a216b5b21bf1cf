"""A file that goes with a task's completion (e.g. the signed statistics form): checked like a
ticket attachment, private to the library's leads and consortium staff, shown on the board and
in its CSV, and completing twice still changes nothing."""

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.audit import AuditEntry
from app.models.duty import TaskAttachment, TaskState
from app.services import duties

PDF = b"%PDF-1.7\n% signed statistics form\n"
HX = {"HX-Request": "true"}


@pytest.fixture
def task_files(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "task_attachment_dir", tmp_path)
    return tmp_path


def count(db: Session, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def complete(client, task_id, headers, *, content=PDF, name="stats form.pdf", note=None):
    files = {"file": (name, content, "application/octet-stream")} if content is not None else None
    data = {"note": note} if note is not None else None
    return client.post(f"/tasks/{task_id}/completion", files=files, data=data, headers=headers)


def test_a_liaison_completes_with_a_file_and_downloads_it(client, world, db, task_files):
    task = world.make.task_of(world.duty, world.own.code)
    headers = world.headers(world.own.liaison)
    answer = complete(client, task.id, headers, note="Signed by the dean")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["state"] == "done" and body["completed_by"] == world.own.liaison.id
    assert body["note"] == "Signed by the dean" and body["attachments"] == 1
    assert len(list(task_files.iterdir())) == 1
    [stored] = client.get(f"/tasks/{task.id}/attachments", headers=headers).json()["data"]
    assert stored["content_type"] == "application/pdf" and stored["filename"] == "stats form.pdf"
    download = client.get(stored["url"], headers=headers)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment")
    assert "stats%20form.pdf" in download.headers["content-disposition"]
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"
    staff = client.get(stored["url"], headers=world.headers(world.staff))
    assert staff.status_code == 200
    # The audit says a file was attached by id, size and type, never by its name.
    entry = db.exec(
        select(AuditEntry).where(AuditEntry.entity_type == "task", AuditEntry.action == "attach")
    ).one()
    assert entry.after["size"] == len(PDF) and "stats" not in str(entry.after)


def test_completion_without_a_file_is_multipart_too_and_json_still_works(client, world):
    task = world.make.task_of(world.duty, world.own.code)
    headers = world.headers(world.own.director)
    answer = client.post(
        f"/tasks/{task.id}/completion",
        files={"file": ("", b"", "application/octet-stream")},  # an empty file input
        data={"note": "No form this year"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "done" and answer.json()["attachments"] == 0
    other = world.make.task_of(world.duty, world.other.code)
    json = client.patch(
        f"/tasks/{other.id}", json={"state": "done"}, headers=world.headers(world.other.liaison)
    )
    assert json.status_code == 200 and json.json()["state"] == "done"


@pytest.mark.parametrize(
    ("content", "limit", "words"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00", None, "PDF, PNG, JPEG, GIF and plain-text"),
        (b"<svg onload=alert(1)>\x00", None, "PDF, PNG, JPEG, GIF and plain-text"),
        (b"", None, "empty"),
        (b"%PDF-1.7 " + b"x" * 4000, 2048, "larger than 2 KB"),
    ],
)
def test_a_bad_file_is_refused_in_plain_words_and_nothing_is_written(
    client, world, db, task_files, monkeypatch, content, limit, words
):
    if limit:
        monkeypatch.setattr(get_settings(), "ticket_attachment_max_bytes", limit)
    task = world.make.task_of(world.duty, world.own.code)
    entries = count(db, AuditEntry, AuditEntry.entity_type == "task")
    answer = complete(client, task.id, world.headers(world.own.liaison), content=content)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert words in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["file"]
    assert list(task_files.iterdir()) == []
    assert count(db, TaskAttachment) == 0
    assert count(db, AuditEntry, AuditEntry.entity_type == "task") == entries
    db.expire_all()
    assert world.make.task_of(world.duty, world.own.code).state == TaskState.open  # not done
    page = complete(
        client, task.id, {**world.headers(world.own.liaison), **HX}, content=content, name="x.pdf"
    )
    assert words in page.text and 'id="error-file"' in page.text


def test_another_library_gets_404_and_library_staff_may_not_attach(client, world, task_files):
    task = world.make.task_of(world.duty, world.own.code)
    for who in (world.other.liaison, world.other.director):
        assert complete(client, task.id, world.headers(who)).status_code == 404
    assert complete(client, task.id, world.headers(world.own.library_staff)).status_code == 403
    assert list(task_files.iterdir()) == []
    complete(client, task.id, world.headers(world.own.liaison))
    [stored] = client.get(
        f"/tasks/{task.id}/attachments", headers=world.headers(world.own.liaison)
    ).json()["data"]
    assert client.get(stored["url"], headers=world.headers(world.other.liaison)).status_code == 404
    assert (
        client.get(f"/tasks/{task.id}/attachments", headers=world.headers(world.other.liaison))
    ).status_code == 404
    colleague = client.get(stored["url"], headers=world.headers(world.own.library_staff))
    assert colleague.status_code == 403
    assert client.get(stored["url"]).status_code == 401
    wrong_task = world.make.task_of(world.duty, world.other.code)
    mixed = client.get(
        f"/tasks/{wrong_task.id}/attachments/{stored['id']}", headers=world.headers(world.staff)
    )
    assert mixed.status_code == 404


def test_completing_twice_keeps_the_first_completion_and_adds_the_file(
    client, world, db, task_files
):
    task = world.make.task_of(world.duty, world.own.code)
    lead = world.headers(world.own.liaison)
    first = client.patch(
        f"/tasks/{task.id}", json={"state": "done", "note": "First"}, headers=lead
    ).json()
    changes = count(db, AuditEntry, AuditEntry.entity_type == "task", AuditEntry.action != "attach")
    again = complete(client, task.id, world.headers(world.own.director), note="Second")
    assert again.status_code == 200
    body = again.json()
    assert body["completed_at"] == first["completed_at"]
    assert body["completed_by"] == world.own.liaison.id and body["note"] == "First"
    assert body["attachments"] == 1
    third = complete(client, task.id, lead, content=None, note="Third")
    assert third.json()["completed_at"] == first["completed_at"]
    assert third.json()["attachments"] == 1
    assert (
        count(db, AuditEntry, AuditEntry.entity_type == "task", AuditEntry.action != "attach")
        == changes
    )


def test_the_board_csv_and_task_page_show_the_file(client, world, task_files, db):
    task = world.make.task_of(world.duty, world.own.code)
    complete(client, task.id, world.headers(world.own.liaison), name="stats.pdf")
    staff = world.headers(world.staff)
    board = client.get(f"/duties/{world.duty.id}/tasks", headers=staff).json()
    by_code = {t["institution"]: t["attachments"] for t in board["data"]}
    assert by_code == {world.own.code: 1, world.other.code: 0}
    page = client.get(f"/duties/{world.duty.id}/tasks", headers={**staff, "Accept": "text/html"})
    assert "1 file attached" in page.text
    csv = client.get(f"/duties/{world.duty.id}/tasks?format=csv", headers=staff).text
    lines = csv.strip().splitlines()
    assert lines[0].endswith("Files attached")
    assert any(line.startswith(f"{world.own.code},") and line.endswith(",1") for line in lines)
    detail = client.get(f"/tasks/{task.id}", headers={**staff, "Accept": "text/html"})
    assert "stats.pdf" in detail.text and f"/tasks/{task.id}/attachments/" in detail.text
    mine = client.get(
        f"/tasks/{task.id}",
        headers={**world.headers(world.own.library_staff), "Accept": "text/html"},
    )
    assert "stats.pdf" in mine.text and "/attachments/" not in mine.text  # no link: 403


def test_the_board_reads_files_in_a_fixed_number_of_statements(
    client, world, make, task_files, counted
):
    """The file count is a column of each row, never a query per task: the same number of
    statements for two rows as for four."""
    url = f"/duties/{world.duty.id}/tasks"
    staff = world.headers(world.staff)

    def statements() -> int:
        with counted() as seen:
            assert client.get(url, headers=staff).status_code == 200
        return len(seen)

    complete(client, world.make.task_of(world.duty, world.own.code).id, staff)
    few = statements()
    for code in ("AAA", "BBB"):
        make.institution(code, name=f"{code} University")
    duties.fan_out(make.session)
    make.session.commit()
    for code in ("AAA", "BBB"):
        complete(client, make.task_of(world.duty, code).id, staff)
    assert statements() == few
    board = client.get(url, headers=staff).json()
    assert sorted(t["attachments"] for t in board["data"]) == [0, 1, 1, 1]
