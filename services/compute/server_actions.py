"""``POST /servers/{id}/action``: one action per body, checked here with Nova's wording and
started by the conductor (which refuses, with 409, what the server's state does not allow).
"""
from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from overcast.rest.responses import FastJSONResponse
from services.compute import validation as check
from services.compute import views
from services.compute.views import Microversion

ActionHandler = Callable[["ActionCall"], Awaitable[Any]]
_IN_PLACE = ("pause", "unpause", "suspend", "resume", "unrescue")


class ActionCall:
    """One action request: who asks, at which microversion, on which server, with what."""

    def __init__(self, *, request: Request, ctx: RequestContext, mv: Microversion,
                 server_id: str, args: Any, conductor: Any, images: Any) -> None:
        self.request, self.ctx, self.mv = request, ctx, mv
        self.server_id, self.args = server_id, args
        self.conductor, self.images = conductor, images

    def dict_args(self, action: str, *, allowed: set[str]) -> dict:
        """The action's body as a dict (null counts as {}); 400 for anything else or for
        keys Nova's schema does not take."""
        if self.args is None:
            return {}
        if not isinstance(self.args, dict):
            raise errors.BadRequest(f"Invalid input for field/attribute {action}. Value: "
                                    f"{excerpt(self.args)}. is not of type 'object', 'null'")
        unknown = set(self.args) - allowed
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute {action}. Additional "
                                    f"properties are not allowed ({excerpt(sorted(unknown))})")
        return self.args


def accepted() -> Response:
    return Response(status_code=202)


async def _power(call: ActionCall, action: str, *, hard: bool = False) -> Response:
    await call.conductor.power_action(call.ctx, instance_id=call.server_id, action=action,
                                      hard=hard)
    return accepted()


async def _stop(call: ActionCall) -> Response:
    return await _power(call, "stop")


async def _start(call: ActionCall) -> Response:
    return await _power(call, "start")


async def _reboot(call: ActionCall) -> Response:
    kind = call.args.get("type") if isinstance(call.args, dict) else None
    if kind not in ("SOFT", "HARD", "soft", "hard"):
        raise errors.BadRequest("Invalid input for field/attribute type. "
                                "Value must be SOFT or HARD")
    return await _power(call, "reboot", hard=kind.upper() == "HARD")


async def _evacuate(call: ActionCall) -> Any:
    if not call.ctx.is_admin:
        raise errors.Forbidden("Policy doesn't allow os_compute_api:os-evacuate to be "
                               "performed.")
    args = call.args if isinstance(call.args, dict) else {}
    host = args.get("host")
    if host is not None and not isinstance(host, str):
        raise errors.BadRequest("Invalid input for field/attribute host.")
    await call.conductor.evacuate_server(call.ctx, instance_id=call.server_id, host=host)
    if call.mv < (2, 14):
        return {"adminPass": secrets.token_urlsafe(9)}
    return accepted()


def _in_place(action: str) -> ActionHandler:
    async def handler(call: ActionCall) -> Response:
        if call.args is not None:
            raise errors.BadRequest(f"Invalid input for field/attribute {action}. Value: "
                                    f"{excerpt(call.args)}. is not of type 'null'")
        await call.conductor.guest_action(call.ctx, instance_id=call.server_id,
                                          action=action)
        return accepted()
    return handler


async def _lock(call: ActionCall) -> Response:
    allowed = {"locked_reason"} if call.mv >= (2, 73) else set()
    args = call.dict_args("lock", allowed=allowed)
    reason = check.optional_string(args.get("locked_reason"), field="locked_reason")
    await call.conductor.lock_server(call.ctx, instance_id=call.server_id, reason=reason)
    return accepted()


async def _unlock(call: ActionCall) -> Response:
    await call.conductor.unlock_server(call.ctx, instance_id=call.server_id)
    return accepted()


async def _rescue(call: ActionCall) -> Response:
    args = call.dict_args("rescue", allowed={"adminPass", "rescue_image_ref"})
    password = args.get("adminPass")
    if password is not None and not isinstance(password, str):
        raise errors.BadRequest("Invalid input for field/attribute adminPass.")
    image_ref = args.get("rescue_image_ref")
    if image_ref is not None:
        image_ref = check.ref_id(image_ref, field="rescue_image_ref")
        await _active_image(call, image_ref)
    await call.conductor.guest_action(call.ctx, instance_id=call.server_id, action="rescue",
                                      rescue_image_ref=image_ref)
    return FastJSONResponse({"adminPass": password or secrets.token_urlsafe(9)},
                            status_code=200)  # as Nova's rescue


async def _console_output(call: ActionCall) -> Response:
    args = call.dict_args("os-getConsoleOutput", allowed={"length"})
    length = check.console_length(args.get("length"))
    output = await call.conductor.get_console_output(call.ctx, instance_id=call.server_id,
                                                     length=length)
    return FastJSONResponse({"output": output}, status_code=200)


async def _image(call: ActionCall, image_id: str) -> dict:
    try:
        return await call.images.get_image(call.ctx, image_id)
    except errors.NotFound:
        raise errors.BadRequest(f"Image {image_id} could not be found.") from None


async def _active_image(call: ActionCall, image_id: str) -> dict:
    image = await _image(call, image_id)
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image_id} is not active.")
    return image


async def _with_image(call: ActionCall, *, action: str, name: str,
                      metadata: dict[str, str]) -> dict:
    """Make the queued image a snapshot goes into, start ``action`` with it, and delete the
    image again if the action is refused (so a 404 or 409 leaves no stray image)."""
    # 404 for a server the caller cannot see, before any image is made.
    server = await call.conductor.get_server(call.ctx, instance_id=call.server_id)
    image = await create_snapshot_image(call.ctx, call.images, server=server,
                                        name=name.format(server=server["name"])[:255],
                                        metadata=metadata)
    try:
        await call.conductor.guest_action(call.ctx, instance_id=call.server_id,
                                          action=action, image_id=image["id"])
    except BaseException:
        await call.images.delete_image(call.ctx, image["id"])
        raise
    return image


async def _shelve(call: ActionCall) -> Response:
    if call.args is not None:
        raise errors.BadRequest(f"Invalid input for field/attribute shelve. Value: "
                                f"{excerpt(call.args)}. is not of type 'null'")
    await _with_image(call, action="shelve", name="{server}-shelved", metadata={})
    return accepted()


async def _unshelve(call: ActionCall) -> Response:
    allowed = {"availability_zone"} if call.mv >= (2, 77) else set()
    args = call.dict_args("unshelve", allowed=allowed)
    zone = check.optional_string(args.get("availability_zone"), field="availability_zone")
    await call.conductor.unshelve_server(call.ctx, instance_id=call.server_id,
                                         availability_zone=zone)
    return accepted()


async def _shelve_offload(call: ActionCall) -> Response:
    await call.conductor.guest_action(call.ctx, instance_id=call.server_id,
                                      action="shelveOffload")
    return accepted()


async def _rebuild(call: ActionCall) -> Any:
    args = call.dict_args("rebuild", allowed={
        "imageRef", "name", "metadata", "adminPass", "accessIPv4", "accessIPv6",
        "OS-DCF:diskConfig", "preserve_ephemeral", "description", "key_name", "user_data",
        "trusted_image_certificates", "hostname", "personality"})
    if "imageRef" not in args:
        raise errors.BadRequest("Invalid input for field/attribute rebuild. 'imageRef' is a "
                                "required property")
    image_id = check.ref_id(args["imageRef"], field="imageRef")
    if not check.is_uuid(image_id):
        raise errors.BadRequest("Invalid imageRef provided.")
    name = check.name(args["name"]) if "name" in args else None
    metadata = check.metadata(args["metadata"]) if "metadata" in args else None
    password = args.get("adminPass")
    if password is not None and not isinstance(password, str):
        raise errors.BadRequest("Invalid input for field/attribute adminPass.")
    check.bootable_image(await _image(call, image_id))
    inst = await call.conductor.rebuild_server(call.ctx, instance_id=call.server_id,
                                               image_ref=image_id, name=name,
                                               metadata=metadata)
    base = str(call.request.base_url).rstrip("/")
    view = views.server(inst, base, call.mv, call.ctx)
    view["adminPass"] = password or secrets.token_urlsafe(9)
    return FastJSONResponse({"server": view}, status_code=202)


async def _resize(call: ActionCall) -> Response:
    args = call.dict_args("resize", allowed={"flavorRef", "OS-DCF:diskConfig"})
    if "flavorRef" not in args:
        raise errors.BadRequest("Invalid input for field/attribute resize. 'flavorRef' is a "
                                "required property")
    flavor_id = check.ref_id(args["flavorRef"], field="flavorRef")
    await call.conductor.resize_server(call.ctx, instance_id=call.server_id,
                                       flavor_id=flavor_id)
    return accepted()


async def _migrate(call: ActionCall) -> Response:
    if not call.ctx.is_admin:
        raise errors.Forbidden("Policy doesn't allow os_compute_api:os-migrate-server:migrate "
                               "to be performed.")
    args = call.dict_args("migrate", allowed={"host"} if call.mv >= (2, 56) else set())
    host = check.optional_string(args.get("host"), field="host")
    await call.conductor.resize_server(call.ctx, instance_id=call.server_id, host=host)
    return accepted()


async def _confirm_resize(call: ActionCall) -> Response:
    await call.conductor.confirm_resize(call.ctx, instance_id=call.server_id)
    return Response(status_code=204)


async def _revert_resize(call: ActionCall) -> Response:
    await call.conductor.revert_resize(call.ctx, instance_id=call.server_id)
    return accepted()


async def _create_image(call: ActionCall) -> Any:
    args = call.dict_args("createImage", allowed={"name", "metadata"})
    name = check.name(args.get("name")).replace("{", "{{").replace("}", "}}")
    image = await _with_image(call, action="createImage", name=name,
                              metadata=check.metadata(args.get("metadata")))
    if call.mv >= (2, 45):
        return {"image_id": image["id"]}
    base = str(call.request.base_url).rstrip("/")
    return Response(status_code=202, headers={"Location": f"{base}/image/v2/images/"
                                                          f"{image['id']}"})


async def create_snapshot_image(ctx: RequestContext, images: Any, *, server: dict,
                                name: str, metadata: dict[str, str]) -> dict:
    """The queued image record a snapshot of ``server`` is uploaded into, as Nova makes it:
    owned by the caller's project, ``image_type=snapshot``, the instance and its base image
    named, the base image's formats and minimums kept."""
    try:
        base = await images.get_image(ctx, server["image_ref"]) if server["image_ref"] else {}
    except errors.NotFound:
        base = {}
    body = {**metadata, "name": name, "image_type": "snapshot",
            "instance_uuid": server["id"], "base_image_ref": server["image_ref"] or "",
            "user_id": ctx.user_id or "",
            "disk_format": base.get("disk_format") or "raw",
            "container_format": base.get("container_format") or "bare",
            "min_ram": base.get("min_ram") or 0,
            "min_disk": max(base.get("min_disk") or 0, server["flavor"]["disk"])}
    return await images.create_image(ctx, body)


ACTIONS: dict[str, ActionHandler] = {
    "os-stop": _stop, "os-start": _start, "reboot": _reboot, "evacuate": _evacuate,
    **{name: _in_place(name) for name in _IN_PLACE},
    "lock": _lock, "unlock": _unlock, "rescue": _rescue,
    "os-getConsoleOutput": _console_output, "createImage": _create_image,
    "shelve": _shelve, "shelveOffload": _shelve_offload, "unshelve": _unshelve,
    "rebuild": _rebuild, "resize": _resize, "migrate": _migrate,
    "confirmResize": _confirm_resize, "revertResize": _revert_resize,
}


async def dispatch(call: ActionCall, action: str) -> Any:
    handler = ACTIONS.get(action)
    if handler is None:
        raise errors.BadRequest(f"There is no such action: {excerpt(action)}")
    return await handler(call)
