"""The Neutron API extensions this service implements (and so advertises at /v2.0/extensions).

Clients such as openstackclient probe these to decide what to send; list only what works.
"""
from __future__ import annotations

from typing import Any


def _ext(alias: str, name: str, description: str, updated: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "updated": updated,
            "links": []}


EXTENSIONS: list[dict[str, Any]] = [
    _ext("binding", "Port Binding",
         "Expose port bindings of a virtual port to external application",
         "2014-02-03T10:00:00-00:00"),
    _ext("external-net", "Neutron external network",
         "Adds external network attribute to network resource.",
         "2013-01-14T10:00:00-00:00"),
    _ext("filter-validation", "Filter parameters validation",
         "Provides validation on filtering parameters.", "2018-03-21T10:00:00-00:00"),
    _ext("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
         "2015-03-25T10:00:00-00:00"),
    _ext("net-mtu-writable", "Network MTU (writable)",
         "Provides a writable MTU attribute for a network resource.",
         "2017-07-12T00:00:00-00:00"),
    _ext("pagination", "Pagination support",
         "Extension that indicates that pagination is enabled.", "2016-06-12T00:00:00-00:00"),
    _ext("port-security", "Port Security", "Provides port security",
         "2012-07-23T10:00:00-00:00"),
    _ext("project-id", "project_id field enabled",
         "Extension that indicates that project_id field is enabled.",
         "2016-09-09T09:09:09-09:09"),
    _ext("provider", "Provider Network",
         "Expose mapping of virtual networks to physical networks",
         "2012-09-07T10:00:00-00:00"),
    _ext("security-group", "security-group", "The security groups extension.",
         "2012-10-05T10:00:00-00:00"),
    _ext("sorting", "Sorting support", "Extension that indicates that sorting is enabled.",
         "2016-06-12T00:00:00-00:00"),
    _ext("standard-attr-description", "standard-attr-description",
         "Extension to add descriptions to standard attributes",
         "2016-02-10T10:00:00-00:00"),
    _ext("standard-attr-revisions", "Resource revision numbers",
         "This extension will display the revision number of neutron resources.",
         "2016-04-11T10:00:00-00:00"),
    _ext("standard-attr-tag", "Tag support for resources with standard attribute: network, "
         "subnet, port, security_group",
         "Enables to set tag on resources with standard attribute.",
         "2017-01-01T00:00:00-00:00"),
    _ext("standard-attr-timestamp", "Resource timestamps",
         "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
         "standard attributes.", "2016-09-12T10:00:00-00:00"),
    _ext("stateful-security-group", "Stateful security group",
         "Indicates if the security group is stateful or not", "2019-11-26T09:00:00-00:00"),
]

BY_ALIAS = {ext["alias"]: ext for ext in EXTENSIONS}
