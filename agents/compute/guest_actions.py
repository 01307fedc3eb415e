"""The compute manager's handlers of actions done to a guest in place: pause, suspend,
rescue, snapshot, shelve, the steps of a move, and the console log. Imports no transport.

Every action ends in one ``guest_action_done`` report to the conductor, with the guest's
true power state and the error if it failed; the driver's calls are idempotent, so a
duplicate message does no harm.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agents.compute import moves
from agents.compute.contract import RUNNING, SHUTDOWN
from agents.compute.driver import POWER_STATE_NAMES, ComputeDriver, GuestNotFound
from agents.compute.snapshots import snapshot_to_image
from overcast import errors
from overcast.context import RequestContext

logger = logging.getLogger(__name__)


class GuestActionHandlers:
    """Mixed into ``ComputeManager``, whose attributes these are (and whose
    ``_power_state``, ``image_for`` and ``forget_image`` these handlers call)."""

    host: str
    driver: ComputeDriver
    conductor: Any
    images: Any
    work_dir: Path
    reported: dict[str, int]

    async def guest_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           image_id: str | None = None) -> None:
        """pause, unpause, suspend, resume, rescue, unrescue or createImage, then report.

        Every one ends in a ``guest_action_done`` report, with the error if it failed; the
        driver's calls are idempotent, so a duplicate message does no harm.
        """
        error = result = None
        try:
            result = await self._do_guest_action(ctx, instance_id, action, image_id)
        except GuestNotFound:
            error = f"guest {instance_id} is not on {self.host}"
        except NotImplementedError as exc:
            error = str(exc) or f"{self.driver.hypervisor_type} cannot {action}"
        except errors.OvercastError as exc:
            error = exc.message
        except Exception as exc:
            logger.exception("%s of %s failed", action, instance_id)
            error = str(exc) or type(exc).__name__
        power_state = self._power_state(instance_id)
        self.reported[instance_id] = power_state
        await self.conductor.guest_action_done(ctx, instance_id=instance_id, host=self.host,
                                               action=action, power_state=power_state,
                                               error=error, result=result)

    async def _do_guest_action(self, ctx: RequestContext, instance_id: str, action: str,
                               image_id: str | None) -> dict | None:
        driver = self.driver
        if action in moves.ACTIONS:
            return await moves.ACTIONS[action](self, ctx, instance_id, image_id)
        simple = {"pause": driver.pause, "unpause": driver.unpause,
                  "suspend": driver.suspend, "resume": driver.resume,
                  "unrescue": driver.unrescue}
        if action in simple:
            await simple[action](instance_id)
        elif action == "rescue":
            driver.get_info(instance_id)
            image = await self.image_for(ctx, image_id) if image_id else None
            await driver.rescue(instance_id, image=image)
        elif action == "shelve":
            # As Nova: stop the guest, then snapshot its disk into the shelved image.
            if driver.get_info(instance_id).power_state != SHUTDOWN:
                await driver.power_off(instance_id)
            await self._snapshot(ctx, instance_id, image_id)
        elif action == "shelveOffload":
            await driver.destroy(instance_id)
            self.reported.pop(instance_id, None)
        elif action == "unshelve":  # shelved but not offloaded: the guest is still here
            await driver.power_on(instance_id)
        elif action == "createImage":
            await self._snapshot(ctx, instance_id, image_id)
        else:
            raise errors.BadRequest(f"unknown guest action {action}")

    async def _snapshot(self, ctx: RequestContext, instance_id: str, image_id: str | None
                        ) -> None:
        if self.images is None or image_id is None:
            raise errors.ServiceUnavailable("this host has no image service to upload to")
        await snapshot_to_image(ctx, driver=self.driver, images=self.images,
                                instance_id=instance_id, image_id=image_id,
                                workdir=self.work_dir / "snapshots")

    async def get_console_output(self, ctx: RequestContext, *, instance_id: str,
                                 length: int | None = None) -> str:
        """The guest's console log; NotFound when this host runs no such guest."""
        try:
            return await self.driver.get_console_output(instance_id, length=length)
        except GuestNotFound:
            raise errors.NotFound("Guest does not have a console available.") from None


    async def get_diagnostics(self, ctx: RequestContext, *, instance_id: str) -> dict:
        """The running guest's ``GuestDiagnostics`` in wire form. Conflict when this host
        runs no such guest or it is not running (as Nova's compute manager answers),
        NotSupported when the driver cannot measure guests."""
        try:
            power_state = self.driver.get_info(instance_id).power_state
            if power_state != RUNNING:
                raise errors.Conflict(
                    f"Cannot 'get_diagnostics' instance {instance_id} while it is in power "
                    f"state {POWER_STATE_NAMES.get(power_state, power_state)}")
            return self.driver.get_diagnostics(instance_id).to_wire()
        except GuestNotFound:
            raise errors.Conflict(f"Instance {instance_id} is not ready") from None
        except NotImplementedError:
            raise errors.NotSupported("The requested functionality is not supported.") \
                from None
