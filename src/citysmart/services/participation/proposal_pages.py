"""Pages for processes and proposals."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import Job, Page

router = APIRouter()
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = ()
