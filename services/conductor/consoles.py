"""Console tokens (Nova's console auth tokens): issued to a user who may see an active
server, redeemed by the api's console proxy to learn which host to connect to.

A token is random (256 bits), single-purpose (one console type of one instance on one host)
and short-lived (``ttl``, Nova's ``console_token_ttl``); only its SHA-256 is stored, so the
database never holds a usable token. A token stops working when it expires, and when its
instance is deleted, stops being active or moves to another host. Imports no transport.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable

from sqlalchemy import delete, select

from overcast import errors
from overcast.clock import iso, utcnow
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import states
from services.conductor.contract import ConsoleConnection, ConsoleToken
from services.conductor.hosts import HostTracker
from services.conductor.models import ConsoleAddress, ConsoleAuthToken
from services.conductor.queries import Queries

# A console reaches a running guest: an active one, a resized one (on its new host, until
# the resize is confirmed or reverted), or the rescue guest of a rescued one (the way in
# when the guest's own disk does not boot).
CONSOLE_STATES = {states.ACTIVE, states.RESIZED, states.RESCUED}

logger = logging.getLogger(__name__)

SERIAL = "serial"
CONSOLE_TYPES = (SERIAL,)
DEFAULT_TTL = 600.0  # seconds, as Nova's console_token_ttl
_INVALID = "The token has expired or is invalid."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleTokens:
    """Issues and checks console tokens; knows where each host serves consoles."""

    def __init__(self, db: Database, *, queries: Queries, hosts: HostTracker,
                 ttl: float = DEFAULT_TTL, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.queries = queries
        self.hosts = hosts
        self.ttl = dt.timedelta(seconds=ttl)
        self.clock = clock
        with db.session() as session:
            self._addresses = {row.host: row.address
                               for row in session.scalars(select(ConsoleAddress))}

    # -- from compute hosts' node reports ------------------------------------------------

    def record_address(self, host: str, address: str | None) -> None:
        """Remember where ``host`` serves consoles (kept across restarts); written only when
        it changed."""
        if not address or self._addresses.get(host) == address:
            return
        with self.db.session() as session:
            row = session.get(ConsoleAddress, host)
            if row is None:
                session.add(ConsoleAddress(host=host, address=address))
            else:
                row.address, row.updated_at = address, utcnow()
        self._addresses[host] = address
        logger.info("compute host %s serves consoles at %s", host, address)

    # -- from the API ----------------------------------------------------------------------

    def _connectable(self, inst: dict, console_type: str) -> str:
        """The console address of ``inst``'s host; Conflict or BadRequest when no console
        can be opened to it now."""
        instance_id = inst["id"]
        if inst["vm_state"] not in CONSOLE_STATES or inst["task_state"] is not None:
            attr, value = (("task_state", inst["task_state"]) if inst["task_state"]
                           else ("vm_state", inst["vm_state"]))
            raise errors.Conflict(f"Cannot 'get_{console_type}_console' instance "
                                  f"{instance_id} while it is in {attr} {value}")
        host = inst["host"]
        if not host or not self.hosts.compute_is_up(host):
            raise errors.Conflict(f"Instance {instance_id} is not ready")
        address = self._addresses.get(host)
        if address is None:
            raise errors.BadRequest(f"Unavailable console type {console_type}.")
        return address

    def create(self, ctx: RequestContext, *, instance_id: str,
               console_type: str = SERIAL) -> ConsoleToken:
        """A new token for a console of the instance: NotFound unless ``ctx`` may see it,
        Conflict unless it is active on a host that is up, BadRequest for a console type
        this cloud does not serve."""
        inst = self.queries.visible(ctx, instance_id)
        if console_type not in CONSOLE_TYPES:
            raise errors.BadRequest(f"Unavailable console type {console_type}.")
        address = self._connectable(inst, console_type)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.ttl
        with self.db.session() as session:
            session.execute(delete(ConsoleAuthToken).where(ConsoleAuthToken.expires_at <= now))
            session.add(ConsoleAuthToken(
                token_hash=token_hash(token), console_type=console_type,
                instance_id=instance_id, host=inst["host"], address=address,
                project_id=inst["project_id"], user_id=ctx.user_id, created_at=now,
                expires_at=expires))
        logger.info("issued a %s console token for %s (expires %s)", console_type,
                    instance_id, iso(expires))
        return ConsoleToken(token=token, instance_id=instance_id, console_type=console_type,
                            expires_at=iso(expires))

    # -- from the api's console proxy -----------------------------------------------------

    def validate(self, token: str, *, console_type: str = SERIAL) -> ConsoleConnection:
        """What ``token`` grants; NotFound when it is unknown, expired, for another console
        type, or its instance is gone, not active or on another host now."""
        if not isinstance(token, str) or not token or len(token) > 256:
            raise errors.NotFound(_INVALID)
        now = self.clock()
        with self.db.session() as session:
            row = session.get(ConsoleAuthToken, token_hash(token))
            if row is None or row.expires_at <= now or row.console_type != console_type:
                raise errors.NotFound(_INVALID)
            inst = self.queries.store.get(row.instance_id)
            stale = (inst is None or inst["host"] != row.host
                     or inst["vm_state"] not in CONSOLE_STATES)
            if stale:
                # The console it was for is gone: so are all the instance's tokens there
                # (deleted in this transaction, which commits before the refusal).
                session.execute(delete(ConsoleAuthToken).where(
                    ConsoleAuthToken.instance_id == row.instance_id,
                    ConsoleAuthToken.host == row.host))
            connection = ConsoleConnection(
                instance_id=row.instance_id, console_type=row.console_type, host=row.host,
                address=self._addresses.get(row.host, row.address),
                project_id=row.project_id, user_id=row.user_id)
        if stale:
            raise errors.NotFound(_INVALID)
        return connection
