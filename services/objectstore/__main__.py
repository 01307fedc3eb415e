"""Run the object proxy: ``python -m services.objectstore`` (``OVERCAST_OBJECT_PROXY_*``)."""
from __future__ import annotations

from overcast import config, service
from services.objectstore.service import ObjectProxyConfig, ObjectProxyService


def main() -> None:
    cfg = config.load(ObjectProxyConfig, "object-proxy")
    service.run(ObjectProxyService(cfg))


if __name__ == "__main__":
    main()
