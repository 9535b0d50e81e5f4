"""The service boundary, enforced: no service imports another, the core imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from citysmart.core.service import ServiceManifest, discover_services

SRC = Path(__file__).resolve().parents[1] / "src" / "citysmart"
SERVICES = "citysmart.services"


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every absolute module a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def service_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["citysmart", "services"] and len(parts) > 2:
        return parts[2]
    return None


def violations(root: Path) -> list[str]:
    """List every import across the service boundary under ``root``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        owner_parts = path.relative_to(root.parent).parts
        owner = service_of(".".join(owner_parts)) if "services" in owner_parts else None
        in_core = "services" not in owner_parts
        targets = {service_of(m) for m in imported_modules(path, root)} - {None}
        for target in sorted(t for t in targets if t is not None):
            where = path.relative_to(root.parent)
            if in_core:
                problems.append(f"{where}: the core imports {SERVICES}.{target}")
            elif target != owner:
                problems.append(f"{where}: service {owner} imports {SERVICES}.{target}")
    return problems


def test_no_service_imports_another_and_the_core_imports_none() -> None:
    assert violations(SRC) == []


def test_the_check_catches_a_service_importing_another(tmp_path: Path) -> None:
    pkg = tmp_path / "citysmart"
    (pkg / "services" / "air").mkdir(parents=True)
    (pkg / "services" / "bikes").mkdir(parents=True)
    (pkg / "hub").mkdir()
    (pkg / "services" / "air" / "logic.py").write_text("from citysmart.services.bikes import x\n")
    (pkg / "services" / "bikes" / "api.py").write_text("from ..air import logic\n")
    (pkg / "hub" / "routes.py").write_text("import citysmart.services.air.logic\n")
    (pkg / "services" / "air" / "ok.py").write_text("from citysmart.services.air import logic\n")
    found = violations(pkg)
    assert len(found) == 3
    assert any("service air imports citysmart.services.bikes" in p for p in found)
    assert any("service bikes imports citysmart.services.air" in p for p in found)
    assert any("the core imports citysmart.services.air" in p for p in found)


def test_every_service_exports_a_manifest_named_after_its_package() -> None:
    for manifest in discover_services():
        assert isinstance(manifest, ServiceManifest)
        assert manifest.title


def test_the_app_mounts_a_services_router_and_roles() -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from citysmart.core import roles
    from citysmart.core.config import Settings
    from citysmart.portal.app import create_app

    router = APIRouter(prefix="/api/v1/example")

    @router.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "example"}

    manifest = ServiceManifest(
        name="example", title="Example", router=router, roles={"care_worker": {"citizen"}}
    )
    settings = Settings(database_url="sqlite://", mqtt_ingest=False)
    app = create_app(settings, services=[manifest], start_mqtt=False, migrate=False)
    assert TestClient(app).get("/api/v1/example/ping").json() == {"pong": "example"}
    assert roles.grants("care_worker", "citizen")
    assert roles.grants("admin", "care_worker")
    assert not roles.grants("operator", "care_worker")


@pytest.mark.parametrize(
    ("held", "needed", "ok"),
    [
        ("admin", "operator", True),
        ("operator", "citizen", True),
        ("citizen", "operator", False),
        ("operator", "admin", False),
        ("nobody", "citizen", False),
    ],
)
def test_roles_include_lesser_roles(held: str, needed: str, ok: bool) -> None:
    from citysmart.core import roles

    assert roles.grants(held, needed) is ok
