"""Run a storage node: ``python -m agents.storage``.

``python -m agents.storage once replicator|auditor|updater`` runs one pass of that daemon
against the node's data directory and exits (Swift's ``once`` mode, used by probe tests).
Configuration comes from ``OVERCAST_STORAGE_*`` (see ``StorageConfig``).
"""
from __future__ import annotations

import asyncio
import sys

from agents.storage.service import StorageConfig, StorageNode, StorageService
from overcast import config, log, service

ONCE = {"replicator": "replicate_once", "auditor": "audit_once", "updater": "update_once"}


async def _once(cfg: StorageConfig, names: list[str]) -> None:
    node = StorageNode(cfg)
    try:
        for name in names:
            await getattr(node, ONCE[name])()
    finally:
        await node.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    cfg = config.load(StorageConfig, "storage")
    if args and args[0] == "once":
        names = args[1:] or list(ONCE)
        unknown = [n for n in names if n not in ONCE]
        if unknown:
            raise SystemExit(f"unknown daemon(s): {', '.join(unknown)}; "
                             f"choose from {', '.join(ONCE)}")
        log.setup(service=f"{cfg.host}-once", host=cfg.host, level=cfg.log_level)
        asyncio.run(_once(cfg, names))
        return
    if args:
        raise SystemExit("usage: python -m agents.storage [once [replicator|auditor|updater]]")
    service.run(StorageService(cfg))


if __name__ == "__main__":
    main()
