"""Neutron's error types as domain errors.

The REST edge names the NeutronError ``type`` after the class, so these keep Neutron's class
names and messages. Each subclasses one of ``overcast.errors``' classes, which fixes the HTTP
code; a caller across the bus gets that base class, with the Neutron name in
``details["error_type"]`` (``overcast.bus.remote``).
"""
from __future__ import annotations

from typing import Any

from overcast import errors


class _Neutron:
    """Formats ``fmt`` with the keyword arguments, which also become the error's details."""

    fmt = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.fmt % kwargs, **kwargs)  # type: ignore[call-arg]


# -- 400 ---------------------------------------------------------------------------------------

class HTTPBadRequest(errors.BadRequest):
    """The request body or query is malformed (Neutron's API-layer validation)."""


class MalformedRequestBody(_Neutron, errors.BadRequest):
    fmt = "Malformed request body: %(reason)s."


class InvalidInput(_Neutron, errors.BadRequest):
    fmt = "Invalid input for operation: %(error_message)s."


class InvalidIpForSubnet(_Neutron, errors.BadRequest):
    fmt = "IP address %(ip)s does not belong to subnet %(subnet_id)s"


class InvalidIpForNetwork(_Neutron, errors.BadRequest):
    fmt = ("IP address %(ip_address)s is not a valid IP for any of the subnets on the "
           "specified network.")


class InvalidAllocationPool(_Neutron, errors.BadRequest):
    fmt = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(_Neutron, errors.BadRequest):
    fmt = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class DNSNameServersExhausted(_Neutron, errors.BadRequest):
    fmt = ("Unable to complete operation for %(subnet_id)s. The number of DNS nameservers "
           "exceeds the limit %(quota)s.")


class HostRoutesExhausted(_Neutron, errors.BadRequest):
    fmt = ("Unable to complete operation for %(subnet_id)s. The number of host routes exceeds "
           "the limit %(quota)s.")


class PortSecurityAndIPRequiredForSecurityGroups(_Neutron, errors.BadRequest):
    fmt = ("Port security must be enabled and port must have an IP address in order to use "
           "security groups.")


# -- 403 ---------------------------------------------------------------------------------------

class PolicyNotAuthorized(_Neutron, errors.Forbidden):
    fmt = "(rule:%(action)s) is disallowed by policy"


# -- 404 ---------------------------------------------------------------------------------------

class HTTPNotFound(errors.NotFound):
    """The resource could not be found."""


class NetworkNotFound(_Neutron, errors.NotFound):
    fmt = "Network %(net_id)s could not be found."


class SubnetNotFound(_Neutron, errors.NotFound):
    fmt = "Subnet %(subnet_id)s could not be found."


class PortNotFound(_Neutron, errors.NotFound):
    fmt = "Port %(port_id)s could not be found."


class SecurityGroupNotFound(_Neutron, errors.NotFound):
    fmt = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(_Neutron, errors.NotFound):
    fmt = "Security group rule %(id)s does not exist"


class TagNotFound(_Neutron, errors.NotFound):
    fmt = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


class ExtensionNotFound(_Neutron, errors.NotFound):
    fmt = "Extension with alias %(alias)s does not exist"


# -- 409 ---------------------------------------------------------------------------------------

class NetworkInUse(_Neutron, errors.Conflict):
    fmt = ("Unable to complete operation on network %(net_id)s. There are one or more ports "
           "still in use on the network.")


class SubnetInUse(_Neutron, errors.Conflict):
    fmt = ("Unable to complete operation on subnet %(subnet_id)s: One or more ports have an "
           "IP allocation from this subnet.")


class InvalidSharedSetting(_Neutron, errors.Conflict):
    fmt = ("Unable to reconfigure sharing settings for network %(network)s. Multiple tenants "
           "are using it.")


class FlatNetworkInUse(_Neutron, errors.Conflict):
    fmt = ("Unable to create the flat network. Physical network %(physical_network)s is in "
           "use.")


class TunnelIdInUse(_Neutron, errors.Conflict):
    fmt = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class NoNetworkAvailable(_Neutron, errors.ServiceUnavailable):
    fmt = "Unable to create the network. No tenant network is available for allocation."


class IpAddressAlreadyAllocated(_Neutron, errors.Conflict):
    fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class IpAddressGenerationFailure(_Neutron, errors.Conflict):
    fmt = "No more IP addresses available on network %(net_id)s."


class MacAddressInUse(_Neutron, errors.Conflict):
    fmt = ("Unable to complete operation for network %(net_id)s. The mac address %(mac)s is "
           "in use.")


class GatewayConflictWithAllocationPools(_Neutron, errors.Conflict):
    fmt = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class OverlappingAllocationPools(_Neutron, errors.Conflict):
    fmt = ("Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet "
           "%(subnet_cidr)s.")


class PortSecurityPortHasSecurityGroup(_Neutron, errors.Conflict):
    fmt = ("Port has security group associated. Cannot disable port security or IP address "
           "until security group is removed.")


class SecurityGroupInUse(_Neutron, errors.Conflict):
    fmt = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(_Neutron, errors.Conflict):
    fmt = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(_Neutron, errors.Conflict):
    fmt = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(_Neutron, errors.Conflict):
    fmt = "Default security group already exists."


class SecurityGroupRuleExists(_Neutron, errors.Conflict):
    fmt = "Security group rule already exists. Rule id is %(rule_id)s."
