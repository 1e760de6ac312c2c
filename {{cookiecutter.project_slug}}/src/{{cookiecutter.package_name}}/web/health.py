"""The probes: ``/health`` (the process answers) and ``/ready`` (its database can serve).

``/ready`` asks the kit's readiness check (groundwork/readiness.py): the database is reachable
and at the head revision, in db.status's words when it is not, with status 503 so that a load
balancer or Kubernetes sends no traffic until ``invoke db.migrate`` has run. Plain ``def``
endpoints: FastAPI runs them in its thread pool, so a slow database never blocks the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

router = APIRouter(tags=["probes"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is alive; says nothing of the database (that is ``/ready``)."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"description": "not ready, and why"}},
)
def ready(request: Request, response: Response) -> dict[str, str]:
    """The database is reachable and at head: 200; otherwise 503 with the reason."""
    answer = request.app.state.readiness()
    if not answer.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "unavailable", "reason": answer.reason or "unknown"}
    return {"status": "ready"}
