"""The ``connections audit`` command group: its arguments, help texts with examples, and exit codes.

Each subcommand only parses and hands over to :mod:`services.audit.entrypoints.commands`; errors become exit
codes here, in one place.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.settings import Settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3

EXIT_CODES = """\
exit codes:
  0  done, nothing wrong found
  1  findings: tampering or broken history (verify), views differ (rebuild), an export that does not verify
  2  usage error: bad arguments, or something named that does not exist (unknown connection, view, key file)
  3  could not run: the store, the broker or a file could not be reached

settings: the usual OMNI_* environment variables choose the store (OMNI_STORE=sqlite|postgres,
OMNI_DATA_DIR, OMNI_DATABASE_URL) and Kafka (OMNI_KAFKA_BOOTSTRAP, OMNI_KAFKA_NAMESPACE)."""

TIME_HELP = "ISO 8601, e.g. 2026-11-27T10:15:00Z or 2026-11-27 (UTC when no offset is given)"


def parse_time(text: str) -> datetime:
    """An ISO 8601 moment; naive times and dates are UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} ({TIME_HELP})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a connection id (UUID): {text!r}") from None


def parse_position(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a store position (1 or more): {text!r}")
    return int(text)


def parse_anchor(text: str) -> tuple[int, str]:
    position, _, digest = text.partition(":")
    if not position.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise argparse.ArgumentTypeError(f"an anchor is POSITION:SHA256HEX as printed by 'chain --head': {text!r}")
    return int(position), digest.lower()


def _parser(commands: Any, name: str, summary: str, example: str, parents: list[argparse.ArgumentParser],
            details: str = "") -> argparse.ArgumentParser:
    text = f"{summary}\n\n{details}" if details else summary
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, parents=parents, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{text}\n\nexample:\n  {example}", epilog=EXIT_CODES,
    )
    return parser


def register(subparsers: Any) -> None:
    """Add the ``audit`` subcommand group to the project's CLI (``connections audit ...``)."""
    audit = subparsers.add_parser(
        "audit", help="audit and replay tools over the event store",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_CODES,
        description="Audit and replay tools over the event store: history, time travel, rebuild, verify, "
                    "export, republish.\n\nexample:\n  connections audit history --tenant acme --since 2026-11-01",
    )
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=("table", "jsonl"), default=None,
                        help="default: a table on a terminal, JSON Lines when piped")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--since", type=parse_time, help=f"only events at or after this time; {TIME_HELP}")
    filters.add_argument("--until", type=parse_time, help="only events at or before this time")
    filters.add_argument("--type", action="append", default=[], dest="types", metavar="TYPE",
                         help="only this event type (Edited, Connection.Edited or Connection.Edited.v1); repeatable")
    filters.add_argument("--actor", action="append", default=[], dest="actors", metavar="ACTOR",
                         help="only events caused by this actor; repeatable")

    history = _parser(commands, "history", "a connection's or a tenant's events, in order, with who, when and why",
                      "connections audit history --connection 3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11 --type Edited",
                      [quiet, output, filters],
                      "Secrets are never shown: credentials appear as \"credentials changed (fingerprint ...)\".")
    subject = history.add_mutually_exclusive_group(required=True)
    subject.add_argument("--connection", type=parse_uuid, metavar="ID", help="a connection (and its data model)")
    subject.add_argument("--tenant", metavar="TENANT", help="every event of a tenant")

    state = _parser(commands, "state", "a connection's full state at a moment (time travel)",
                    "connections audit state 3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11 --at 2026-11-27T10:15:00Z", [],
                    "Credentials show as \"(sealed)\", or \"(erased)\" once the connection's key was shredded.")
    state.add_argument("connection", type=parse_uuid, metavar="CONNECTION_ID")
    moment = state.add_mutually_exclusive_group()
    moment.add_argument("--at", type=parse_time, metavar="TIME", help=f"as it was at this time; {TIME_HELP}")
    moment.add_argument("--version", type=parse_position, metavar="N", help="as it was at this version")

    diff = _parser(commands, "diff", "what changed in a connection between two moments",
                   "connections audit diff 3f1c2a9e-8d4b-4f6a-9c1e-2b7d5e8a0f11 --from 2026-11-01 --to 2026-11-27",
                   [output])
    diff.add_argument("connection", type=parse_uuid, metavar="CONNECTION_ID")
    before = diff.add_mutually_exclusive_group(required=True)
    before.add_argument("--from", dest="from_at", type=parse_time, metavar="TIME", help="the earlier moment")
    before.add_argument("--from-version", type=parse_position, metavar="N", help="the earlier version")
    after = diff.add_mutually_exclusive_group()
    after.add_argument("--to", dest="to_at", type=parse_time, metavar="TIME", help="the later moment (default: now)")
    after.add_argument("--to-version", type=parse_position, metavar="N", help="the later version")

    rebuild = _parser(commands, "rebuild", "rebuild a view from the store beside the live one and compare them",
                      "connections audit rebuild connection_list", [quiet],
                      "The live view is not changed: rows are rebuilt into shadow tables (<table>__audit) with the read side's\n"
                      "own code, up to the live view's position, and compared row by row by digest.")
    rebuild.add_argument("view", metavar="VIEW",
                         help="connection_list, connection_status, processes, data_model or audit")
    rebuild.add_argument("--keep-shadow", action="store_true", help="keep the shadow tables for inspection")
    rebuild.add_argument("--replace", action="store_true",
                         help="when they differ, replace the live view by a fresh rebuild (the read side's swap)")

    verify = _parser(commands, "verify", "check the history: versions, decoding, and the integrity chain",
                     "connections audit verify --anchor 1200:$(cat last-anchor.txt)", [quiet, output],
                     "Records after the chain's head are reported as not yet sealed, not as tampering.")
    verify.add_argument("--anchor", type=parse_anchor, metavar="POSITION:HASH",
                        help="a chain head kept outside the database ('chain --head'), to detect a rewritten chain")

    chain = _parser(commands, "chain", "seal stored records into the integrity chain (once, or following)",
                    "connections audit chain --follow", [quiet])
    mode = chain.add_mutually_exclusive_group()
    mode.add_argument("--follow", action="store_true", help="keep sealing new records until SIGTERM (a process)")
    mode.add_argument("--head", action="store_true", help="only print the chain's head (an anchor to keep)")

    export = _parser(commands, "export", "a tenant's events of a period as JSON Lines, optionally signed",
                     "connections audit export --tenant acme --since 2026-01-01 --until 2026-12-31 "
                     "--sign ed25519 --key-file audit.pem --output acme-2026.jsonl", [quiet, filters])
    export.add_argument("--tenant", required=True)
    export.add_argument("--output", type=Path, metavar="FILE", help="default: stdout")
    export.add_argument("--sign", choices=("hmac-sha256", "ed25519"), help="sign the export with --key-file")
    export.add_argument("--key-file", type=Path, metavar="FILE",
                        help="HMAC secret (32+ bytes) or Ed25519 private key (PEM)")

    check = _parser(commands, "verify-export", "check an export: its lines against its trailer and its signature",
                    "connections audit verify-export acme-2026.jsonl --key-file audit.pub.pem", [])
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--key-file", type=Path, metavar="FILE",
                       help="HMAC secret or Ed25519 public key; without it only the digest is checked")

    keygen = _parser(commands, "keygen", "make an Ed25519 key pair for signing exports",
                     "connections audit keygen --out audit   # writes audit.pem and audit.pub.pem", [])
    keygen.add_argument("--out", type=Path, default=Path("audit-export"), metavar="PREFIX")

    republish = _parser(commands, "republish", "send integration events again from a position, marked as replays",
                        "connections audit republish --from 1200", [quiet],
                        "Messages keep their message ids (consumers dedupe) and carry the header replay: true.\n"
                        "Only connections.events goes out; driver jobs are never re-sent.")
    republish.add_argument("--from", dest="start", type=parse_position, required=True, metavar="POSITION")
    republish.add_argument("--to", dest="stop", type=parse_position, metavar="POSITION", help="default: the head")
    republish.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen audit command; every failure becomes a documented exit code with a one-line reason."""
    from services.audit.adapters.signing import KeyFileError
    from services.audit.application import AuditError
    from services.audit.domain.exports import ExportInvalid
    from services.audit.entrypoints import commands
    from shared.logging import configure_logging

    configure_logging(settings.log_json)  # log lines go to stderr: stdout carries the command's result
    handler = getattr(commands, args.audit_command.replace("-", "_"))
    try:
        code: int = handler(args, settings)
    except (AuditError, KeyFileError) as refusal:
        print(f"connections audit {args.audit_command}: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    except ExportInvalid as invalid:
        print(f"connections audit {args.audit_command}: {invalid}", file=sys.stderr)
        return EXIT_FINDINGS
    except BrokenPipeError:
        return EXIT_OK  # the reader (``| head``) had enough
    except Exception as exc:  # noqa: BLE001 - anything else means the command could not run at all
        print(f"connections audit {args.audit_command}: could not run: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return EXIT_FAILED
    return code
