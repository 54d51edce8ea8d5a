"""``connections migrate``: arguments, the audit's own verification after the copy, exit codes."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_DIFFERS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

EXAMPLE = "connections migrate --from-sqlite .data --to-postgres postgresql://omni:secret@db:5432/omni"


def register(subparsers: Any) -> None:
    """Add ``migrate`` to the project's CLI."""
    parser = subparsers.add_parser(
        "migrate", help="copy the embedded SQLite store into PostgreSQL and verify the copy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy the SQLite event store (events with their positions, snapshots), the connection keys, the\n"
                    "relay's position and the audit chain into an empty PostgreSQL database, in one transaction,\n"
                    "then verify: counts, every aggregate's versions, a digest of every record, and\n"
                    "'connections audit verify' against the copy. Views are rebuilt by the projections process.\n"
                    "Stop every process first.\n\nexample:\n  " + EXAMPLE,
        epilog="exit codes:\n  0  copied and verified\n  1  the copy differs from the source or the audit found a "
               "problem\n  2  usage: no store in the folder, or the target is not empty\n  3  could not run "
               "(a database could not be reached)")
    parser.add_argument("--from-sqlite", required=True, type=Path, metavar="DIR",
                        help="the data folder of the embedded store (OMNI_DATA_DIR, holding events.sqlite)")
    parser.add_argument("--to-postgres", required=True, metavar="URL", help="postgresql://user:pw@host:port/db")
    parser.add_argument("--skip-audit", action="store_true", help="do not run 'connections audit verify' after")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from services.migrate.copy import MigrationError, migrate

    def say(line: str) -> None:
        if not args.quiet:
            print(f"migrate: {line}", file=sys.stderr)

    try:
        report = migrate(args.from_sqlite, args.to_postgres, say)
    except MigrationError as refused:
        print(f"connections migrate: {refused}", file=sys.stderr)
        return EXIT_DIFFERS if "differs" in str(refused) else EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a database away or refusing: one line, not a traceback
        print(f"connections migrate: could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"migrated {report.events} events of {report.aggregates} aggregates, {report.snapshots} snapshots, "
          + ", ".join(f"{n} {t}" for t, n in report.side_rows.items()) + f"; digest {report.digest}")
    if args.skip_audit:
        return EXIT_OK
    return audit_verify(args.to_postgres, say)


def audit_verify(url: str, say: Any) -> int:
    """``connections audit verify`` on the new store, in its own process, as an operator would run it."""
    if importlib.util.find_spec("services.audit.entrypoints.cli") is None:
        say("'connections audit verify' is not available in this build; skipped")
        return EXIT_OK
    env = {**os.environ, "OMNI_STORE": "postgres", "OMNI_DATABASE_URL": url}
    done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "services.cli", "audit", "verify", "--quiet"], env=env, capture_output=True,
        text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        say(f"audit verify: {line}")
    if done.returncode != 0:
        print(f"connections migrate: 'connections audit verify' on the copy exited {done.returncode}",
              file=sys.stderr)
        return EXIT_DIFFERS
    return EXIT_OK
