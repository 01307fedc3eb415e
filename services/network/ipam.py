"""IP address management as pure functions: subnet ranges, allocation pools, the next free
address and MAC addresses. The database (a unique subnet+address row per allocation) is what
makes allocation safe under concurrency; these functions only choose candidates.
"""
from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Iterable, Iterator

from services.network import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAC_PREFIX = "fa:16:3e"


def usable_range(net: IPNetwork) -> tuple[IPAddress, IPAddress]:
    """First and last addresses a host may hold: never the network address, nor v4 broadcast."""
    first = net.network_address + 1
    last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
    return first, last


def is_host_address(ip: str, net: IPNetwork) -> bool:
    """Whether ``ip`` lies in ``net`` and may be given to a host."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.version != net.version or addr not in net:
        return False
    first, last = usable_range(net)
    return first <= addr <= last


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """The whole usable range, split around the gateway when it sits inside it."""
    first, last = usable_range(net)
    gw = ipaddress.ip_address(gateway) if gateway is not None else None
    if gw is None or not first <= gw <= last:
        return [{"start": str(first), "end": str(last)}]
    pools = []
    if gw > first:
        pools.append({"start": str(first), "end": str(gw - 1)})
    if gw < last:
        pools.append({"start": str(gw + 1), "end": str(last)})
    return pools


def pool_text(pool: dict[str, str]) -> str:
    return f"{pool['start']}-{pool['end']}"


def validate_pools(net: IPNetwork, pools: list[dict[str, str]],
                   gateway: str | None) -> list[dict[str, str]]:
    """Requested pools, checked as Neutron does: in the subnet, ordered, disjoint, no gateway."""
    first, last = usable_range(net)
    ranges = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != net.version or end.version != net.version or start > end:
            raise exc.InvalidAllocationPool(pool=pool_text(pool))
        if start < first or end > last:
            raise exc.OutOfBoundsAllocationPool(pool=pool_text(pool), subnet_cidr=str(net))
        ranges.append((start, end, pool))
    ranges.sort(key=lambda r: r[0])
    for (_, end_a, pool_a), (start_b, _, pool_b) in itertools.pairwise(ranges):
        if start_b <= end_a:
            raise exc.OverlappingAllocationPools(pool_1=pool_text(pool_a),
                                                 pool_2=pool_text(pool_b),
                                                 subnet_cidr=str(net))
    if gateway is not None:
        gw = ipaddress.ip_address(gateway)
        for start, end, pool in ranges:
            if start <= gw <= end:
                raise exc.GatewayConflictWithAllocationPools(ip_address=gateway,
                                                             pool=pool_text(pool))
    return [{"start": str(s), "end": str(e)} for s, e, _ in ranges]


def in_pools(ip: str, pools: Iterable[dict[str, str]]) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(ipaddress.ip_address(p["start"]) <= addr <= ipaddress.ip_address(p["end"])
               for p in pools)


def candidates(pools: Iterable[dict[str, str]], taken: set[str],
               gateway: str | None) -> Iterator[str]:
    """Free addresses in pool order, lowest first. Walks at most ``len(taken)`` used ones."""
    for pool in pools:
        current = ipaddress.ip_address(pool["start"])
        end = ipaddress.ip_address(pool["end"])
        while current <= end:
            text = str(current)
            if text not in taken and text != gateway:
                yield text
            current += 1


def random_mac() -> str:
    """A MAC in OpenStack's locally administered range ``fa:16:3e:xx:xx:xx``."""
    tail = ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))
    return f"{MAC_PREFIX}:{tail}"
