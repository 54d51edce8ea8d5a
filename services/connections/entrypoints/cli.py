"""``connections keys``: operator tools for the credential vault's master keys.

``connections keys rotate --to KEY_ID`` rewraps every connection's data key with master key ``KEY_ID``
(configured in ``OMNI_MASTER_KEYS``); no event is read or written. ``connections keys status`` counts the
data keys per master key id. Neither prints any key material.
"""

from __future__ import annotations

import argparse
import base64
from collections import Counter
from typing import Any

from services.connections.adapters.vault import SqlVault, UnknownMasterKey
from shared.settings import Settings
from shared.sql import open_database


def register(sub: Any) -> None:
    """Add the ``keys`` group to the ``connections`` command's subparsers."""
    keys = sub.add_parser("keys", help="credential vault: rotate the master key wrapping the data keys")
    actions = keys.add_subparsers(dest="keys_action", required=True)
    rotate = actions.add_parser("rotate", help="rewrap every data key with another master key (events untouched)")
    rotate.add_argument("--to", required=True, metavar="KEY_ID", help="id of a key in OMNI_MASTER_KEYS")
    actions.add_parser("status", help="how many data keys each master key wraps")


def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    db = open_database(settings.sql_url("keys"), pool_size=1)
    try:
        masters = {key_id: base64.b64decode(key) for key_id, key in settings.master_keys.items()}
        vault = SqlVault(db, masters, settings.master_key_id)
        if args.keys_action == "status":
            counts = Counter(vault.key_ids().values())
            for key_id in sorted(counts):
                configured = "" if key_id in masters else "  (not configured!)"
                print(f"{key_id}: {counts[key_id]} data keys{configured}")
            print(f"new data keys are wrapped with: {settings.master_key_id}")
            return 0
        try:
            rewrapped = vault.rotate(args.to)
        except UnknownMasterKey as unknown:
            print(f"error: {unknown}")
            return 2
        print(f"rewrapped {rewrapped} data keys with master key {args.to!r}; events untouched")
        if settings.master_key_id != args.to:
            print(f"next: set OMNI_MASTER_KEY_ID={args.to} for every process, then remove the old master key")
        return 0
    finally:
        db.close()
