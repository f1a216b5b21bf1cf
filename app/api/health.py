"""Liveness and readiness for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import get_engine
from app.web.problems import PROBLEM_JSON, make_problem, problem_responses
from app.web.render import SharedRoute

router = APIRouter(route_class=SharedRoute, tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=dict[str, str], responses=problem_responses(503))
def readyz(request: Request):
    """The process can reach its database; a 503 problem (naming the database) when it cannot."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        problem = make_problem(request, 503, "The database is unreachable.")
        body = {**problem.model_dump(exclude_none=True), "database": "unreachable"}
        return JSONResponse(body, 503, media_type=PROBLEM_JSON)
    return {"status": "ok", "database": "ok"}
