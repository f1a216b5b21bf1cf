"""All table models, imported so `SQLModel.metadata` knows every table (Alembic, tests)."""

from app.models.audit import AuditEntry
from app.models.auth import LoginFailure, RevokedToken
from app.models.institution import Institution
from app.models.user import User

__all__ = ["AuditEntry", "Institution", "LoginFailure", "RevokedToken", "User"]
