"""The directory import updates people (issue 12, A6): an export edited and imported back; a
preview per row; all rows or none."""

from sqlmodel import select

from app.models.audit import AuditEntry
from app.models.liaison import Appointment, Liaison
from app.models.user import Role

HTML = {"Accept": "text/html"}


def _import(client, headers, content: bytes, dry_run: bool = True, html: bool = False):
    path = "/liaisons/import" + ("" if dry_run else "?dry_run=false")
    extra = {"HX-Request": "true"} if html else {}
    return client.post(
        path, files={"file": ("people.csv", content, "text/csv")}, headers=headers | extra
    )


def test_an_edited_export_previews_then_updates_people_matched_by_email(client, make, db):
    make.institution("UPD")
    ann = make.liaison("UPD", roles=("liaison",), name="Ann Old", email="ann@upd.example.edu")
    make.liaison("UPD", roles=("billing",), name="Bo Same", email="bo@upd.example.edu",
                 title="Billing")  # fmt: skip
    _, staff = make.signed_in(Role.consortium_staff)
    exported = client.get("/liaisons?institution=UPD&format=csv", headers=staff).text
    edited = (
        exported.replace("Ann Old", "Ann New")
        .replace("ann@upd.example.edu", "ANN@Upd.example.edu")  # matched whatever its case
        .replace("liaison,true", "liaison; fulfillment,true")
        + ",Cy New,cy@upd.example.edu,,,UPD,cataloging,,,\r\n"
    )
    preview = _import(client, staff, edited.encode())
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["valid"] is True and report["dry_run"] is True
    by_name = {r["name"]: r for r in report["results"]}
    assert by_name["Ann New"]["action"] == "update"
    assert by_name["Ann New"]["fields"] == ["name", "roles"]
    assert by_name["Bo Same"]["action"] == "unchanged" and by_name["Bo Same"]["fields"] == []
    assert by_name["Cy New"]["action"] == "add"
    db.refresh(ann)
    assert ann.name == "Ann Old"  # a preview writes nothing
    assert db.exec(select(Liaison).where(Liaison.email == "cy@upd.example.edu")).first() is None
    page = _import(client, staff, edited.encode(), html=True).text
    assert "Will update: name, roles" in page and "Will add" in page and "Unchanged" in page

    done = _import(client, staff, edited.encode(), dry_run=False)
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["updated"], done.json()["unchanged"]) == (1, 1, 1)
    person = client.get(f"/liaisons/{ann.id}", headers=staff).json()
    assert person["name"] == "Ann New" and person["roles"] == ["liaison", "fulfillment"]
    assert person["email"] == "ann@upd.example.edu"  # still one person, same address
    assert db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == str(ann.id), AuditEntry.action == "update")
    ).first()


def test_an_empty_cell_clears_a_field_and_an_empty_roles_cell_keeps_roles(client, make, db):
    make.institution("CLR")
    person = make.liaison("CLR", roles=("billing",), email="cl@clr.example.edu", phone="555",
                          title="Clerk", name="Cleo Clear")  # fmt: skip
    _, staff = make.signed_in(Role.consortium_staff)
    content = (
        b"name,email,institution,roles,phone,title\nCleo Clear,cl@clr.example.edu,CLR,,,Clerk\n"
    )
    report = _import(client, staff, content).json()
    assert report["results"][0]["action"] == "update"
    assert report["results"][0]["fields"] == ["phone"]
    assert _import(client, staff, content, dry_run=False).status_code == 200
    db.refresh(person)
    assert person.phone is None and person.title == "Clerk"
    roles = db.exec(select(Appointment.role).where(Appointment.liaison_id == person.id)).all()
    assert [r.value for r in roles] == ["billing"]


def test_one_bad_row_means_nothing_is_imported_and_each_row_says_why(client, make, db):
    make.institution("ALL")
    make.institution("ELS")
    keep = make.liaison("ALL", roles=("billing",), name="Kim Keep", email="kim@all.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    content = (
        b"name,email,institution,roles,started_on\n"
        b"Kim Changed,kim@all.example.edu,ALL,billing,\n"  # line 2: fine
        b"Nell New,nell@all.example.edu,ALL,billing,\n"  # line 3: fine
        b"Kim Moved,KIM@all.example.edu,ELS,billing,\n"  # line 4: same person twice, moved
        b"Wiz Ard,wiz@all.example.edu,ALL,wizard,\n"  # line 5: unknown role
        b"Dee Date,dee@all.example.edu,ALL,billing,soon\n"  # line 6: not a date
    )
    real = _import(client, staff, content, dry_run=False)
    assert real.status_code == 422
    db.refresh(keep)
    assert keep.name == "Kim Keep"
    assert db.exec(select(Liaison).where(Liaison.email == "nell@all.example.edu")).first() is None
    report = _import(client, staff, content).json()
    outcomes = {r["line"]: r for r in report["results"]}
    assert outcomes[2]["action"] == "update" and outcomes[3]["action"] == "add"
    assert outcomes[4]["action"] == "error" and "line 2" in " ".join(outcomes[4]["problems"])
    assert "“wizard” is not a role the directory knows" in " ".join(outcomes[5]["problems"])
    assert "is not a date" in " ".join(outcomes[6]["problems"])
    for r in report["results"]:  # plain words: never a parser's message or a field name
        assert not any("Input should" in p or "started_on" in p for p in r["problems"])


def test_a_person_is_not_moved_to_another_institution_by_import(client, make, db):
    make.institution("HOM")
    make.institution("AWY")
    make.liaison("HOM", roles=("billing",), name="Hal Home", email="hal@hom.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    content = b"name,email,institution,roles\nHal Home,hal@hom.example.edu,AWY,billing\n"
    report = _import(client, staff, content).json()
    (row,) = report["results"]
    assert row["action"] == "error" and "listed at HOM" in row["problems"][0]
    assert report["valid"] is False
