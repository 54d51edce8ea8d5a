"""Settings validated at start: a bad ``OMNI_*`` value becomes one line naming the variable, never a traceback.

Values are not repeated in the message: several settings hold secrets (keys, tokens, a database URL with
its password), and the operator knows what they set.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_settings import SettingsError

if TYPE_CHECKING:
    from shared.settings import Settings

EXIT_BAD_SETTINGS = 2  # the usage-error code of the CLI (and of argparse)
_PREFIX = "OMNI_"


def variable(field: str) -> str:
    """The environment variable that sets ``field``."""
    return _PREFIX + field.upper()


def explain(error: Exception) -> list[str]:
    """One line per bad variable (or per rule between variables), in the order pydantic found them."""
    if isinstance(error, ValidationError):
        lines = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else ""
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{variable(field)}: {message}" if field else f"settings: {message}")
        return lines
    if isinstance(error, SettingsError):
        found = re.search(r'field "([^"]+)"', str(error))
        name = variable(found.group(1)) if found else "settings"
        return [f"{name}: not valid JSON (it must be a JSON object, e.g. '{{\"id\": \"...\"}}')"]
    return [f"settings: {error}"]


def load_or_explain() -> Settings | None:
    """The settings from the environment, or ``None`` after printing why they are invalid to stderr."""
    from shared.settings import Settings

    try:
        return Settings()
    except (ValidationError, SettingsError, ValueError) as invalid:
        for line in explain(invalid):
            print(f"connections: invalid setting {line}", file=sys.stderr)
        return None
