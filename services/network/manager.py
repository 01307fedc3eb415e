"""The network manager: Neutron's logic without any transport.

``NetworkManager`` gathers the resource parts (``networks.py``, ``ports.py``,
``secgroups.py``, ``tags.py``) and the compute-facing calls (``nova.py``). Every request
method is a coroutine taking the caller's ``RequestContext`` first (only the start-up
``bootstrap`` is plain). Today they only touch the database, but the network agents' plumbing
to come (telling hosts of port and rule changes) will need to await, and can without changing
any caller.

Create and update methods take the inner body of a Neutron request (``{"name": ...}``, not
``{"network": {...}}``) and return the resource as the API shows it to that caller.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db import Database
from services.network import models as m
from services.network.networks import FLAT, NetworksMixin
from services.network.nova import NovaMixin
from services.network.secgroups import SecurityGroupsMixin, ensure_default
from services.network.tags import TagsMixin

logger = logging.getLogger(__name__)

PUBLIC = {"name": "public", "router:external": True, "shared": False,
          "provider:network_type": FLAT, "provider:physical_network": "public"}
PUBLIC_SUBNET = {"name": "public-subnet", "cidr": "172.24.4.0/24", "ip_version": 4,
                 "gateway_ip": "172.24.4.1", "enable_dhcp": False}
PRIVATE = {"name": "private", "shared": True}
PRIVATE_SUBNET = {"name": "private-subnet", "cidr": "10.0.0.0/22", "ip_version": 4,
                  "gateway_ip": "10.0.0.1", "enable_dhcp": True}


class NetworkManager(NovaMixin, NetworksMixin, SecurityGroupsMixin, TagsMixin):
    """Networks, subnets, ports, security groups and IPAM over one database."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    def bootstrap(self, *, admin_project_id: str, demo_project_id: str) -> None:
        """Make DevStack's starting networks if they are missing (safe to run at every start).

        Synchronous, unlike the request methods: it runs once while the api process starts.

        "public": external, flat on physical network "public", owned by the admin project,
        subnet 172.24.4.0/24 without DHCP. "private": the demo project's VXLAN network, shared
        so admin can boot on it too, subnet 10.0.0.0/22. Both projects get default groups.
        """
        def work(s: Session) -> None:
            for project in (admin_project_id, demo_project_id):
                ensure_default(s, project)
            public = self._network_named(s, admin_project_id, PUBLIC)
            self._subnet_named(s, public, PUBLIC_SUBNET)
            private = self._network_named(s, demo_project_id, PRIVATE)
            self._subnet_named(s, private, PRIVATE_SUBNET)
        self.run(work)

    def _network_named(self, s: Session, project_id: str, attrs: dict[str, Any]) -> m.Network:
        net = s.scalar(select(m.Network).where(m.Network.name == attrs["name"],
                                               m.Network.project_id == project_id))
        if net is None:
            net = self.new_network(s, {**attrs, "project_id": project_id})
            logger.info("bootstrap: created network %s", attrs["name"])
        return net

    def _subnet_named(self, s: Session, net: m.Network, attrs: dict[str, Any]) -> m.Subnet:
        subnet = next((x for x in net.subnets if x.name == attrs["name"]), None)
        if subnet is None:
            subnet = self.new_subnet(s, net, {**attrs, "project_id": net.project_id})
        return subnet
