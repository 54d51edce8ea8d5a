"""The checked-in JSON Schemas and AsyncAPI document are exactly what the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import schema_export


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return schema_export.generate()


@pytest.fixture
def fresh_copy(tmp_path: Path, generated: dict[str, str]) -> Path:
    schema_export.write(tmp_path, generated)
    return tmp_path


def test_checked_in_artifacts_equal_freshly_generated_ones(generated: dict[str, str]) -> None:
    problems = schema_export.stale_artifacts(schema_export.PACKAGE_DIR, generated)
    assert problems == [], "\n".join(problems) + "\nrun: python -m contracts.schema_export"


def test_every_message_version_has_its_schema_file(generated: dict[str, str]) -> None:
    from contracts.registry import MESSAGES

    expected = {f"schemas/{t}.v{v}.json" for t, v in MESSAGES} | {"asyncapi.json"}
    assert set(generated) == expected


def test_generating_twice_gives_the_same_bytes(generated: dict[str, str]) -> None:
    assert schema_export.generate() == generated


def test_freshness_check_passes_on_a_fresh_copy(fresh_copy: Path, generated: dict[str, str]) -> None:
    assert schema_export.stale_artifacts(fresh_copy, generated) == []


def test_freshness_check_names_a_stale_schema(fresh_copy: Path, generated: dict[str, str]) -> None:
    path = fresh_copy / "schemas" / "CreateConnection.v1.json"
    path.write_text(path.read_text().replace('"name"', '"title_of_connection"'))

    problems = schema_export.stale_artifacts(fresh_copy, generated)

    assert problems == ["schemas/CreateConnection.v1.json is stale (differs from what the code generates)"]


def test_freshness_check_names_a_stale_asyncapi_document(fresh_copy: Path, generated: dict[str, str]) -> None:
    path = fresh_copy / "asyncapi.json"
    path.write_text(path.read_text().replace("connections.events.v1", "connections.events.v0"))

    assert schema_export.stale_artifacts(fresh_copy, generated) == [
        "asyncapi.json is stale (differs from what the code generates)"
    ]


def test_freshness_check_names_missing_and_left_over_schemas(fresh_copy: Path, generated: dict[str, str]) -> None:
    (fresh_copy / "schemas" / "RequestSync.v1.json").unlink()
    (fresh_copy / "schemas" / "RequestSync.v0.json").write_text("{}")

    problems = schema_export.stale_artifacts(fresh_copy, generated)

    assert problems == [
        "schemas/RequestSync.v1.json is missing",
        "schemas/RequestSync.v0.json is left over: no message generates it any more",
    ]


def test_check_command_fails_on_a_stale_artifact_and_says_how_to_fix_it(
    fresh_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fresh_copy / "schemas" / "DriverJob.v1.json"
    path.write_text(path.read_text() + " ")

    exit_code = schema_export.main(["--check", "--root", str(fresh_copy)])

    assert exit_code == 1
    err = capsys.readouterr().err
    assert "schemas/DriverJob.v1.json is stale" in err
    assert "python -m contracts.schema_export" in err


def test_check_command_passes_on_fresh_artifacts(fresh_copy: Path) -> None:
    assert schema_export.main(["--check", "--root", str(fresh_copy)]) == 0


def test_export_command_repairs_stale_artifacts(fresh_copy: Path) -> None:
    (fresh_copy / "asyncapi.json").write_text("{}")
    (fresh_copy / "schemas" / "Gone.v1.json").write_text("{}")

    assert schema_export.main(["--root", str(fresh_copy)]) == 0

    assert schema_export.stale_artifacts(fresh_copy) == []
