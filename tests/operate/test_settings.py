"""Settings: one documented table, kept fresh, and bad values refused at start in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import Settings
from shared.settings_table import DOC, main, render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_settings_md_is_generated_from_the_settings_and_fresh() -> None:
    assert main(["--check"]) == 0, "run: python -m shared.settings_table"


def test_every_setting_has_a_row_and_no_development_secret_is_printed() -> None:
    text = render()
    for name in Settings.model_fields:
        assert f"| `OMNI_{name.upper()}` |" in text
    defaults = Settings()
    for key in defaults.master_keys.values():
        assert key not in text
    assert defaults.worker_key not in text and "dev-admin-token" not in DOC.read_text()


@pytest.mark.parametrize(("variable", "value"), [
    ("OMNI_HTTP_PORT", "eighty"),
    ("OMNI_KAFKA_PARTITIONS", "0"),
    ("OMNI_STORE", "mysql"),
    ("OMNI_MASTER_KEYS", "{not json"),
    ("OMNI_WORKER_KEY", "c2hvcnQ="),
])
def test_a_bad_value_stops_the_process_with_one_line_naming_the_variable(variable: str, value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "services.cli", "relay"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), variable: value}, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], done.stderr
    assert "Traceback" not in done.stderr and value not in lines[0]
