"""The ``storage-N`` process: wiring of the disk store, listing databases, gRPC server and
the background daemons (replicators, auditor, updater, usage reports)."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

from agents.storage import grpc_api
from agents.storage.auditor import ObjectAuditor
from agents.storage.client import StorageClient, db_path
from agents.storage.databases import DatabaseManager
from agents.storage.db_replicator import DatabaseReplicator
from agents.storage.diskfile import DiskStore
from agents.storage.objects import ObjectManager
from agents.storage.replication import ReplicationManager
from agents.storage.replicator import ObjectReplicator
from agents.storage.updates import UpdateQueue
from overcast.config import CommonConfig
from overcast.grpc import GrpcServer
from overcast.periodic import PeriodicTask
from overcast.ring import RingHolder
from overcast.service import Service

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class StorageConfig(CommonConfig):
    # The node's device name in the ring.
    host: str = "storage-1"
    listen: str = "127.0.0.1:6201"
    # Empty: state_dir/storage/<host>.
    data_dir: str = ""
    # Empty: state_dir/object.ring.
    ring_path: str = ""
    # Tombstones (and tombstone rows) older than this are forgotten.
    reclaim_age: float = 7 * 86400
    replicator_interval: float = 5.0
    auditor_interval: float = 30.0
    auditor_bytes_per_second: float = 50e6
    auditor_files_per_second: float = 200
    updater_interval: float = 1.0
    # Listing updates queued while one batch is in flight (or within this delay) go out
    # together in the next batch.
    update_batch_delay: float = 0.0
    # How long a write waits for its listing update before answering (the updater
    # delivers it later if the container node is slow or down).
    container_update_timeout: float = 1.0
    node_timeout: float = 10.0
    fsync: bool = True

    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else Path(self.state_dir, "storage",
                                                              self.host)

    def ring_file(self) -> Path:
        return Path(self.ring_path) if self.ring_path else Path(self.state_dir, "object.ring")


class StorageNode:
    """Everything of a node but its server: what ``once`` runs and the service serves."""

    def __init__(self, cfg: StorageConfig) -> None:
        self.cfg = cfg
        root = cfg.data_path()
        root.mkdir(parents=True, exist_ok=True)
        self.ring = RingHolder(cfg.ring_file())
        self.client = StorageClient(timeout=cfg.node_timeout)
        self.store = DiskStore(root, reclaim_age=cfg.reclaim_age, fsync=cfg.fsync)
        self.updates = UpdateQueue(root, send=self._send_rows, resolve=self._containers,
                                   max_age=cfg.reclaim_age)
        self.objects = ObjectManager(self.store, self.ring, self.updates,
                                     update_timeout=cfg.container_update_timeout)
        self.databases = DatabaseManager(root, self.ring)
        self.replication = ReplicationManager(self.store)
        self.replicator = ObjectReplicator(name=cfg.host, store=self.store, ring=self.ring,
                                           client=self.client)
        self.db_replicator = DatabaseReplicator(name=cfg.host, databases=self.databases,
                                                ring=self.ring, client=self.client,
                                                reclaim_age=cfg.reclaim_age)
        self.auditor = ObjectAuditor(self.store, bytes_per_second=cfg.auditor_bytes_per_second,
                                     files_per_second=cfg.auditor_files_per_second,
                                     expire=self.objects.expire)

    async def _send_rows(self, address: str, account: str, container: str, partition: int,
                         rows: list[dict]) -> None:
        await self.client.merge_rows(address, db_path(account, container, partition),
                                     objects=rows)

    def _containers(self, account: str, container: str) -> list[tuple[str, int]]:
        part, nodes = self.ring.ring.get_nodes(account, container)
        return [(n.address, part) for n in nodes]

    async def _send_usage(self, address: str, account: str, partition: int,
                          rows: list[dict]) -> None:
        await self.client.merge_rows(address, db_path(account, "", partition), containers=rows)

    async def replicate_once(self) -> None:
        self.ring.check()
        await self.replicator.run_once()
        await self.db_replicator.run_once()

    async def update_once(self) -> None:
        await self.updates.run_once()
        await self.databases.report_usage(self._send_usage)

    async def audit_once(self) -> None:
        await self.auditor.run_once()

    async def close(self) -> None:
        await self.updates.flush()
        self.updates.close()
        self.databases.close()
        await self.client.close()


class StorageService(Service):
    name = "storage"

    def __init__(self, cfg: StorageConfig) -> None:
        super().__init__(cfg)
        self.cfg: StorageConfig = cfg
        self.name = cfg.host
        self.node: StorageNode | None = None
        self.grpc: GrpcServer | None = None
        self.tasks: list[PeriodicTask] = []
        self._flusher: asyncio.Task | None = None

    async def start(self) -> None:
        cfg = self.cfg
        node = self.node = StorageNode(cfg)
        removed = node.store.clean_tmp()
        if removed:
            logger.info("removed %s interrupted writes", removed)
        node.updates.recover()
        node.databases.mark_all_dirty()
        self.grpc = GrpcServer(cfg.listen)
        self.grpc.add(lambda _, server: grpc_api.register(
            server, grpc_api.ObjectServicer(node.objects, node.replication),
            grpc_api.ListingServicer(node.databases)), None)
        await self.grpc.start()
        self._flusher = asyncio.get_running_loop().create_task(
            node.updates.run_flusher(cfg.update_batch_delay))
        self.tasks = [
            PeriodicTask("ring-reload", node.ring.run_once, interval=1.0),
            PeriodicTask("updater", node.update_once, interval=cfg.updater_interval),
            PeriodicTask("replicator", node.replicate_once, interval=cfg.replicator_interval,
                         initial_delay=cfg.replicator_interval),
            PeriodicTask("auditor", node.audit_once, interval=cfg.auditor_interval,
                         initial_delay=cfg.auditor_interval),
        ]
        for task in self.tasks:
            task.start()

    async def stop(self) -> None:
        for task in self.tasks:
            await task.stop()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self.grpc is not None:
            await self.grpc.stop(grace=2.0)
        if self.node is not None:
            await self.node.close()

    @property
    def port(self) -> int | None:
        return self.grpc.port if self.grpc else None
