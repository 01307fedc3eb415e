"""Run the volume service: ``python -m services.volume`` (``OVERCAST_VOLUME_*``)."""
from __future__ import annotations

from overcast import config, service
from services.volume.service import VolumeConfig, VolumeService


def main() -> None:
    service.run(VolumeService(config.load(VolumeConfig, "volume")))


if __name__ == "__main__":
    main()
