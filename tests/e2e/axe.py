"""Run axe-core (from npm, copied by scripts/build_assets.py) on a Playwright page.

The script is loaded from the portal's own static folder, so the page's
Content-Security-Policy (``script-src 'self'``) stays on while axe runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_FILE = (
    Path(__file__).resolve().parents[2] / "src/citysmart/portal/static/vendor/axe-core/axe.min.js"
)
AXE_URL = "/static/vendor/axe-core/axe.min.js"
BLOCKING = ("serious", "critical")


def run_axe(page: Page, base_url: str, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Inject axe into the page (once) and return every violation it finds.

    ``exclude`` names CSS selectors of parts left out (a third party's widget).
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=f"{base_url}{AXE_URL}")
    result: dict[str, Any] = page.evaluate(
        """async (exclude) => await window.axe.run(
            {include: [document], exclude: exclude.map((s) => [s])},
            {resultTypes: ['violations']},
        )""",
        list(exclude),
    )
    return list(result["violations"])


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the serious and critical violations (those the tests fail on)."""
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(path: str, violations: list[dict[str, Any]]) -> str:
    """Say what is wrong where: rule, impact, help, and each offending element."""
    lines = []
    for violation in violations:
        lines.append(
            f"{path}: {violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"][:10]:
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    {node['target']}: {node['html'][:200]}")
            if summary:
                lines.append(f"      {summary[:400]}")
    return "\n".join(lines)
