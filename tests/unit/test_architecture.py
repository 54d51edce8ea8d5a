"""The architecture stays as decided: a domain that imports no infrastructure, and one shape for every service."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("connections", "projections", "driver_worker", "audit")
# The domain may use the standard library and the library's aggregate base, nothing else: no pydantic,
# psycopg, faststream, structlog, settings, contracts or adapters; nor another service's domain.
ALLOWED_THIRD_PARTY = ("eventsourcing.domain",)
# Pure shared rules several domains apply alike; each must itself import the standard library only.
PURE_SHARED = ("shared.masking",)


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def forbidden_imports(source: str, module: str, package: str, filename: str = "<source>") -> list[str]:
    """Every import in ``source`` (the module ``module``) that is not stdlib, allowed or inside ``package``."""
    found: list[str] = []
    is_package = module.endswith(".__init__")
    here = module.removesuffix(".__init__").split(".")
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "__import__", "import_module",
        ):
            names = ["<dynamic import>"]
        else:
            continue
        for name in names:
            if not _allowed(name, package):
                found.append(f"{filename}:{node.lineno} imports {name!r}")
    return found


def _allowed(name: str, package: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    if name == package or name.startswith(package + "."):
        return True
    return any(name == allowed or name.startswith(allowed + ".") for allowed in (*ALLOWED_THIRD_PARTY, *PURE_SHARED))


@pytest.mark.parametrize("module", PURE_SHARED)
def test_a_pure_shared_module_imports_only_the_standard_library(module: str) -> None:
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    imported = [alias.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [node.module or "." for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.ImportFrom)]
    outside = [name for name in imported if name.split(".")[0] not in (*sys.stdlib_module_names, "__future__")]
    assert imported and not outside, f"{module} must stay pure: it imports {outside}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_only_the_standard_library_and_eventsourcing_domain(service: str) -> None:
    domain = ROOT / "services" / service / "domain"
    files = sorted(domain.rglob("*.py"))
    assert files, f"{domain} has no modules"

    offending = [
        problem
        for path in files
        for problem in forbidden_imports(path.read_text(), _module_of(path), f"services.{service}.domain",
                                         str(path.relative_to(ROOT)))
    ]

    assert not offending, "the domain must not import infrastructure:\n" + "\n".join(offending)


@pytest.mark.parametrize(
    ("source", "offender"),
    [
        ("import psycopg\n", "psycopg"),
        ("from pydantic import BaseModel\n", "pydantic"),
        ("from eventsourcing.application import Application\n", "eventsourcing.application"),
        ("from contracts.events import ConnectionCreated\n", "contracts.events"),
        ("from services.connections.adapters.vault import SqlVault\n", "services.connections.adapters.vault"),
        ("from ..adapters import vault\n", "services.connections.adapters"),
        ("if True:\n    import structlog\n", "structlog"),
        ("import importlib\nimportlib.import_module('psycopg')\n", "<dynamic import>"),
        ("from services.projections.domain.connection_status import masked\n",
         "services.projections.domain.connection_status"),
    ],
)
def test_the_import_check_names_the_offending_import(source: str, offender: str) -> None:
    found = forbidden_imports(source, "services.connections.domain.example", "services.connections.domain")

    assert len(found) == 1 and repr(offender) in found[0], found


def test_the_import_check_accepts_stdlib_eventsourcing_domain_and_the_domain_itself() -> None:
    source = (
        "from __future__ import annotations\nimport json\nfrom uuid import UUID\n"
        "from eventsourcing.domain import Aggregate, event\n"
        "from services.connections.domain.errors import RuleViolated\nfrom .jobs import Job\nfrom . import meta\n"
    )

    assert forbidden_imports(source, "services.connections.domain.example", "services.connections.domain") == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_shape(service: str) -> None:
    folder = ROOT / "services" / service
    expected = {"domain/": folder / "domain", "entrypoints/": folder / "entrypoints",
                "adapters/": folder / "adapters", "application.py": folder / "application.py",
                "bootstrap.py": folder / "bootstrap.py"}

    missing = [
        name for name, path in expected.items()
        if not (path.is_dir() and (path / "__init__.py").is_file() if name.endswith("/") else path.is_file())
    ]

    assert not missing, f"services/{service} lacks {', '.join(missing)}"
