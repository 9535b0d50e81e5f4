"""Pages for the opinion channel and the regulatory sandbox."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import Job, Page

router = APIRouter()
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = ()
