"""The ``connections`` command: one subcommand per process, plus ``up`` for the whole local stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.migrate.cli import register as register_migrate
from services.migrate.cli import run as run_migrate
from shared.settings_check import EXIT_BAD_SETTINGS, load_or_explain


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connections", description="Omni-Channel Connections processes")
    sub = parser.add_subparsers(dest="process", required=True)
    sub.add_parser("serve", help="write side: HTTP commands and the command/report consumers")
    sub.add_parser("relay", help="publish stored events to Kafka (outbox relay)")
    sub.add_parser("projections", help="projection runner and query API")
    worker = sub.add_parser("worker", help="a driver worker", description="example: connections worker --driver pos")
    worker.add_argument("--driver", required=True)
    worker.add_argument("--endpoint", action="append", default=[], metavar="NAME=URL",
                        help="override a fixed vendor host, e.g. shopify=http://127.0.0.1:9000/shopify")
    kafka = sub.add_parser("kafka", help="run the local Kafka broker in the foreground")
    kafka.add_argument("--port", type=int, default=9092)
    kafka.add_argument("--data-dir", default=".data/kafka")
    sub.add_parser("up", help="the whole stack on the embedded defaults (SQLite, local Kafka), until Ctrl-C")
    from services.connections.entrypoints.cli import register as register_keys, run_keys
    register_keys(sub)
    from services.audit.entrypoints.cli import register as register_audit, run_audit; register_audit(sub)
    register_migrate(sub)
    args = parser.parse_args(argv)

    if args.process == "kafka":
        from shared.local_kafka import main as kafka_main

        return kafka_main(["--port", str(args.port), "--data-dir", args.data_dir])
    if args.process == "migrate":
        return run_migrate(args)
    settings = load_or_explain()  # a bad OMNI_* value: one line naming it, exit code 2
    if settings is None:
        return EXIT_BAD_SETTINGS
    if args.process == "keys":
        return run_keys(args, settings)
    if args.process == "audit": return run_audit(args, settings)
    if args.process == "serve":
        from services.connections.bootstrap import run_service

        run_service(settings)
    elif args.process == "relay":
        from services.connections.bootstrap import run_relay

        run_relay(settings)
    elif args.process == "projections":
        from services.projections.bootstrap import run_projections

        run_projections(settings)
    elif args.process == "worker":
        from services.driver_worker.bootstrap import run_worker

        endpoints = dict(item.split("=", 1) for item in args.endpoint)
        run_worker(settings, args.driver, endpoints)
    elif args.process == "up":
        from services.launcher import run_up

        return run_up(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
