"""One function per ``connections audit`` subcommand: build the tools, call the application, print, exit code.

Results go to stdout, progress and summaries to stderr, so a piped result stays clean JSON Lines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from services.audit.application import Moment
from services.audit.bootstrap import AuditTools, build_audit, run_chain_follower, with_replay_publisher
from services.audit.domain.history import Filters
from services.audit.entrypoints.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from services.audit.entrypoints.progress import progress_for
from services.audit.entrypoints.render import FINDING_COLUMNS, HISTORY_COLUMNS, document_out, json_line, rows_out
from shared.runtime import freeze_start_up_heap
from shared.settings import Settings

_SHOWN_DIFFERENCES = 20


@contextmanager
def _tools(settings: Settings) -> Iterator[AuditTools]:
    tools = build_audit(settings)
    freeze_start_up_heap()  # the tools live as long as this command; the rebuild decodes a million events
    try:
        yield tools
    finally:
        tools.close()


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(args.since, args.until, tuple(args.types), tuple(args.actors))


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def history(args: argparse.Namespace, settings: Settings) -> int:
    with _tools(settings) as tools:
        entries = tools.audit.history(progress_for(args.quiet), _filters(args), connection_id=args.connection,
                                      tenant=args.tenant)
        shown = rows_out((e.as_dict() for e in entries), HISTORY_COLUMNS, sys.stdout, args.format)
    _say(f"{shown} events")
    return EXIT_OK


def state(args: argparse.Namespace, settings: Settings) -> int:
    with _tools(settings) as tools:
        document_out(tools.audit.state(args.connection, Moment(args.at, args.version)), sys.stdout)
    return EXIT_OK


def diff(args: argparse.Namespace, settings: Settings) -> int:
    before, after = Moment(args.from_at, args.from_version), Moment(args.to_at, args.to_version)
    with _tools(settings) as tools:
        old, new, changes = tools.audit.diff(args.connection, before, after)
    rows = [c.as_dict() for c in changes]
    if args.format == "table" or (args.format is None and sys.stdout.isatty()):
        print(f"connection {args.connection}: version {old['version']} ({old['as_of']}) -> "
              f"version {new['version']} ({new['as_of']})")
        for row in rows:
            print(f"  {row['path']}: {json_line(row['before'])} -> {json_line(row['after'])}")
        print(f"{len(rows)} differences")
    else:
        for row in rows:
            print(json_line(row))
    return EXIT_OK


def rebuild(args: argparse.Namespace, settings: Settings) -> int:
    with _tools(settings) as tools:
        report = tools.audit.rebuild(args.view, progress_for(args.quiet), keep_shadow=args.keep_shadow)
        _say(f"rebuilt {report.view} up to position {report.position}: {report.events:,} events read "
             f"({report.applied:,} applied) in {report.seconds:.2f} s, {report.rate:,.0f} events/s")
        print(json_line({"view": report.view, "position": report.position, "events": report.events,
                         "applied": report.applied, "seconds": round(report.seconds, 3),
                         "events_per_second": round(report.rate), "live_found": report.live_found,
                         "live_rows": report.live_rows, "rebuilt_rows": report.rebuilt_rows,
                         "live_digest": report.live_digest, "rebuilt_digest": report.rebuilt_digest,
                         "equal": report.equal, "differences": len(report.differences)}))
        for difference in report.differences[:_SHOWN_DIFFERENCES]:
            print(json_line(difference))
        if report.equal:
            _say(f"equal: {report.live_rows} rows, digest {report.live_digest}")
            return EXIT_OK
        what = "the live view was never built" if not report.live_found else f"{len(report.differences)} rows differ"
        _say(f"DIFFERENT: {what} (live digest {report.live_digest}, rebuilt {report.rebuilt_digest})")
        if args.replace:
            _say(f"replacing the live {report.view} by a fresh rebuild...")
            _say(f"replaced: the live {report.view} is rebuilt up to position {tools.audit.replace(args.view)}")
    return EXIT_FINDINGS


def verify(args: argparse.Namespace, settings: Settings) -> int:
    with _tools(settings) as tools:
        report = tools.audit.verify(progress_for(args.quiet), args.anchor)
    if report.findings:
        rows_out((f.as_dict() for f in report.findings), FINDING_COLUMNS, sys.stdout, args.format)
    unsealed = (f"; {report.unsealed} records not yet sealed (from position {report.first_unsealed})"
                if report.unsealed else "")
    _say(f"checked {report.records:,} records of {report.aggregates:,} aggregates up to position "
         f"{report.store_head}; chain head {report.chain_head}, {report.sealed:,} sealed{unsealed}")
    if report.findings:
        _say(f"TAMPERED OR BROKEN: {len(report.findings)} findings; first bad position {report.first_bad_position}")
        return EXIT_FINDINGS
    _say("ok: versions contiguous, every event decodes, the store matches its integrity chain")
    return EXIT_OK


def chain(args: argparse.Namespace, settings: Settings) -> int:
    if args.follow:
        run_chain_follower(settings)
        return EXIT_OK
    with _tools(settings) as tools:
        integrity = tools.integrity()
        head = integrity.head() if args.head else integrity.catch_up(progress_for(args.quiet))
    document_out({"position": head.position, "hash": head.hash} if head else {"position": 0, "hash": None},
                 sys.stdout)
    return EXIT_OK


def export(args: argparse.Namespace, settings: Settings) -> int:
    from services.audit.adapters.signing import load_signer

    if bool(args.sign) != bool(args.key_file):
        _say("connections audit export: --sign and --key-file go together")
        return EXIT_USAGE
    signer = load_signer(args.sign, args.key_file) if args.sign else None
    with _tools(settings) as tools, _output(args.output) as out:
        summary = tools.audit.export(out, progress_for(args.quiet), args.tenant, _filters(args), signer)
    signed = f", signed with {args.sign} key {summary.signed_by}" if summary.signed_by else ", unsigned"
    _say(f"exported {summary.events} events of tenant {args.tenant}; sha256 {summary.sha256}{signed}")
    return EXIT_OK


@contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with path.open("wb") as out:
        yield out


def verify_export(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - needs no store
    from services.audit.adapters.signing import load_checker
    from services.audit.application import Audit
    from services.audit.domain.exports import parse

    content = args.file.read_bytes()
    checker = None
    if args.key_file is not None:
        parsed, _ = parse(content)
        algorithm = str((parsed.signature or {}).get("algorithm", "hmac-sha256"))
        checker = load_checker(algorithm, args.key_file)
    parsed, problems = Audit.verify_export(content, checker)
    header = parsed.header
    what = (f"{parsed.events} events of tenant {header.get('tenant_id')} "
            f"({header.get('since') or 'beginning'} .. {header.get('until') or 'end'})")
    for problem in problems:
        print(f"FAILED: {problem}")
    if problems:
        return EXIT_FINDINGS
    signature = parsed.signature
    if signature is None:
        print(f"ok (unsigned: integrity only, anyone could have written it): {what}")
    elif checker is None:
        print(f"ok (digest only; signature by {signature.get('algorithm')} key {signature.get('key_id')} "
              f"not checked: pass --key-file): {what}")
    else:
        print(f"ok, signature valid ({signature.get('algorithm')} key {signature.get('key_id')}): {what}")
    return EXIT_OK


def keygen(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - needs no store
    from services.audit.adapters.signing import generate_ed25519

    private, public = generate_ed25519(args.out)
    print(f"private key (sign exports, keep it secret): {private}\npublic key (give to auditors): {public}")
    return EXIT_OK


def republish(args: argparse.Namespace, settings: Settings) -> int:
    with _tools(settings) as tools:
        progress = progress_for(args.quiet)
        if args.dry_run:
            report = asyncio.run(tools.audit.republish(None, progress, args.start, args.stop))
        else:
            report = asyncio.run(with_replay_publisher(
                settings, lambda publisher: tools.audit.republish(publisher, progress, args.start, args.stop)))
    verb = "would send" if args.dry_run else "sent"
    print(json_line({"events": report.events, "messages": report.messages, "from": report.first,
                     "to": report.last, "dry_run": args.dry_run}))
    _say(f"{verb} {report.messages} integration events (positions {report.first}..{report.last}) as replays")
    return EXIT_OK
