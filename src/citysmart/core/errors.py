"""RFC 7807 problem details: every error the API gives says what was wrong."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as ``application/problem+json``."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(
    status: int, title: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    """Build a problem response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every API error, including framework ones, as a problem document."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.title, exc.detail, request.url.path, **exc.extra)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed", 401: "Not signed in"}.get(
            exc.status_code, "Error"
        )
        return problem_response(exc.status_code, title, str(exc.detail), request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"where": ".".join(str(p) for p in err["loc"]), "why": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['why']}" for e in errors)
        return problem_response(422, "Invalid request", detail, request.url.path, errors=errors)

    async def on_database_down(request: Request, exc: Exception) -> Response:
        # Nothing was committed: the client (a device, say) should send the same data again.
        response = problem_response(
            503,
            "Store unavailable",
            "the database cannot be reached; retry shortly",
            request.url.path,
        )
        response.headers["Retry-After"] = "5"
        return response

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(DBAPIError, on_database_down)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
