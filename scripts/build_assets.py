"""Copy the portal's front-end assets from web/node_modules into the Python package.

Run after ``npm ci --prefix web``; the target folder is git-ignored and rebuilt each time::

    npm ci --prefix web && python scripts/build_assets.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "web" / "node_modules"
VENDOR = ROOT / "src" / "citysmart" / "portal" / "static" / "vendor"

# package -> (files and folders under the package, copied as they are)
ASSETS: dict[str, tuple[str, ...]] = {
    # axe-core is for the browser tests only (tests/e2e/axe.py injects it); no page loads it.
    "axe-core": ("axe.min.js", "LICENSE"),
    "leaflet": ("dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"),
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"),
}


def copy_package(name: str, paths: tuple[str, ...]) -> list[Path]:
    """Copy one package's assets into ``vendor/<name>/``; return what was written."""
    source = NODE_MODULES / name
    if not source.is_dir():
        raise SystemExit(
            f"build_assets: {source.relative_to(ROOT)} is missing; "
            "run 'npm ci --prefix web' first (Node.js 20+)"
        )
    target = VENDOR / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for rel in paths:
        src = source / rel
        dst = target / Path(rel).name
        if src.is_dir():
            shutil.copytree(src, dst)
        elif src.is_file():
            shutil.copy2(src, dst)
        else:
            raise SystemExit(f"build_assets: {src.relative_to(ROOT)} is missing from {name}")
        written.append(dst)
    return written


def main() -> int:
    """Copy every package's assets and say which versions were used."""
    for name, paths in ASSETS.items():
        written = copy_package(name, paths)
        version = json.loads((NODE_MODULES / name / "package.json").read_text())["version"]
        names = ", ".join(p.name for p in written)
        print(f"{name} {version}: {names} -> {(VENDOR / name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
