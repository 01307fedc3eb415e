"""REST plumbing shared by every router at the edge: the token dependency, JSON routes and
responses, and errors rendered in the format of the OpenStack service that owns the path.

Nothing here knows a service: tokens are checked by a ``TokenValidator`` the process hands to
``rest_app`` at wiring time.
"""
from __future__ import annotations
