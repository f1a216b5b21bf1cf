"""`portal demo` and `portal users create`, run as a person would run them."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from app.demo import ACCOUNTS
from app.demo.members import member_rows
from app.models.audit import AuditEntry
from app.models.institution import Institution
from app.models.user import User


def portal(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    first = portal("demo", url=url)
    assert first.returncode == 0, first.stderr
    return url, first.stdout


def _snapshot(url: str):
    engine = create_engine(url)
    with Session(engine) as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Institution, User, AuditEntry)
        )
        names = tuple(session.exec(select(Institution.name).order_by(Institution.code)).scalars())
    engine.dispose()
    return counts, names


def test_demo_loads_the_member_list_and_one_account_per_role(demo_db):
    url, output = demo_db
    (institutions, _, _), _ = _snapshot(url)
    assert institutions == len(member_rows()) == 89
    engine = create_engine(url)
    with Session(engine) as session:
        for account in ACCOUNTS:
            user = session.exec(select(User).where(User.email == account.email)).scalar_one()
            assert (user.role, user.institution) == (account.role, account.institution)
            assert account.email in output
    engine.dispose()
    assert "http://127.0.0.1:8000/login" in output


def test_demo_is_idempotent(demo_db):
    url, _ = demo_db
    before = _snapshot(url)
    second = portal("demo", url=url)
    assert second.returncode == 0, second.stderr
    assert "nothing new" in second.stdout
    assert _snapshot(url) == before


def test_users_create_reads_the_password_from_stdin(demo_db):
    url, _ = demo_db
    result = portal(
        "users",
        "create",
        "--email",
        "New.Person@Example.edu",
        "--name",
        "New Person",
        "--role",
        "liaison",
        "--institution",
        "UIU",
        url=url,
        stdin="A-long-enough-passphrase-42\n",
    )
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.email == "new.person@example.edu")).scalar_one()
        assert user.role == "liaison" and user.institution == "UIU"
        assert user.password_hash.startswith("$argon2")
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "liaison", "--institution", "UIU"], "short\n", "at least 12"),
        (["--role", "liaison", "--institution", "UIU"], "aaaaaaaaaaaaaaaa\n", "too easy"),
        (["--role", "liaison"], "A-long-enough-passphrase-42\n", "belongs to an institution"),
        (
            ["--role", "consortium_staff", "--institution", "UIU"],
            "A-long-enough-pass-42\n",
            "no institution",
        ),
        (["--role", "liaison", "--institution", "ZZZ"], "A-long-enough-passphrase-42\n", "ZZZ"),
    ],
)
def test_users_create_refuses_bad_input(demo_db, args, stdin, message):
    url, _ = demo_db
    before = _snapshot(url)
    result = portal(
        "users",
        "create",
        "--email",
        "refused@example.edu",
        "--name",
        "Refused",
        *args,
        url=url,
        stdin=stdin,
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert _snapshot(url) == before


def test_users_create_has_no_password_option():
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "create", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--password" not in result.stdout
