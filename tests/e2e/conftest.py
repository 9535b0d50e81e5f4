"""Fixtures of the browser tests: one chromium shared by every e2e module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.harness import launch_chromium


# Package scope: one chromium for all of tests/e2e, closed (with Playwright's event loop)
# before the rest of the suite runs, so no other test meets that loop.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, shared by the e2e modules (each opens its own contexts)."""
    with launch_chromium() as chromium:
        yield chromium
