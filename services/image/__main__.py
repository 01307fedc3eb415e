"""Run the image service: ``python -m services.image``."""
from __future__ import annotations

from overcast import config, service
from services.image.service import ImageConfig, ImageService


def main() -> None:
    cfg = config.load(ImageConfig, "image")
    service.run(ImageService(cfg))


if __name__ == "__main__":
    main()
