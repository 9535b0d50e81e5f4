"""A tiny app for the launcher's test: it answers with its process id."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def pid(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


def make() -> Starlette:
    return Starlette(routes=[Route("/", pid)])
