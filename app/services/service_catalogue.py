"""The service catalogue: the services windows and incidents name (their statuses are derived in
`app.services.status`)."""

from collections.abc import Sequence

from sqlmodel import Session, select

from app.core.errors import FieldError, Invalid
from app.models.service import Service, ServiceCreate
from app.models.user import User
from app.services import audit
from app.services.access import require_staff


def list_services(*, session: Session) -> Sequence[Service]:
    return session.exec(select(Service).order_by(Service.position, Service.name)).all()


def create_service(*, session: Session, actor: User, data: ServiceCreate) -> Service:
    require_staff(actor, "add services")
    if session.get(Service, data.slug) is not None:
        raise Invalid(
            f"A service with the slug {data.slug} already exists.",
            [FieldError("slug", "is already taken")],
        )
    service = Service.model_validate(data)
    audit.created(session, service, actor=actor)
    session.commit()
    return service


def check_services(session: Session, slugs: list[str]) -> list[str]:
    """`slugs` as given when every one names a service; otherwise 422 naming the unknown ones."""
    known = set(session.exec(select(Service.slug).where(Service.slug.in_(slugs))).all())
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise Invalid(
            f"Unknown service: {', '.join(unknown)}.",
            [
                FieldError(
                    "services",
                    f"There is no service called {', '.join(unknown)}; choose from the list",
                )
            ],
        )
    return slugs


def service_names(session: Session) -> dict[str, str]:
    """Slug → the name people read ("primo_ve" → "Primo VE"), in one statement."""
    return dict(session.exec(select(Service.slug, Service.name)).all())


def names_of(slugs: list[str], names: dict[str, str]) -> str:
    """ "Alma, Primo VE" for ["alma", "primo_ve"]: what pages, e-mails and feeds show."""
    return ", ".join(names.get(s, s) for s in slugs)
