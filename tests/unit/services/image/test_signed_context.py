"""The image service's gRPC port believes a caller's context only when the cloud's key signed
it: a forged admin context once listed, downloaded and deleted every project's images."""
from __future__ import annotations

import grpc
import orjson
import pytest

from overcast.bus.signing import Signer
from overcast.context import RequestContext
from overcast.grpc.client import metadata_for
from overcast.grpc.server import CONTEXT_KEY
from protos.overcast.image.v1 import image_pb2, image_pb2_grpc

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))
ALICE = RequestContext(user_id="u-alice", project_id="p-alice", roles=("member",))


@pytest.fixture
async def stub(image_service):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{image_service.port}")
    yield image_pb2_grpc.ImageServiceStub(channel)
    await channel.close()


@pytest.fixture
async def private_image(client):
    return await client.create_image(ALICE, {"name": "alice-secret", "visibility": "private"})


async def _list(stub, metadata):
    return await stub.ListImages(image_pb2.ListImagesRequest(), metadata=metadata, timeout=10)


@pytest.mark.parametrize("metadata", [
    pytest.param(((CONTEXT_KEY, orjson.dumps(ADMIN.to_dict()).decode()),), id="unsigned"),
    pytest.param(metadata_for(ADMIN, Signer("not-the-clouds-key")), id="wrong-key"),
    pytest.param((), id="no-context"),
])
async def test_a_forged_admin_context_is_refused(stub, private_image, metadata, caplog):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list(stub, metadata)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "refused a gRPC call to /overcast.image.v1.ImageService/ListImages" in caplog.text
    with pytest.raises(grpc.aio.AioRpcError) as not_deleted:
        await stub.DeleteImage(image_pb2.DeleteImageRequest(image_id=private_image["id"]),
                               metadata=metadata, timeout=10)
    assert not_deleted.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_context_signed_for_another_user_cannot_be_edited(stub, signer, private_image):
    signed = dict(metadata_for(ALICE, signer))
    signed[CONTEXT_KEY] = orjson.dumps(ADMIN.to_dict()).decode()   # roles swapped after signing
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _list(stub, tuple(signed.items()))
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_context_signed_with_the_clouds_key_is_served(stub, signer, private_image):
    listed = await _list(stub, metadata_for(ALICE, signer))
    assert private_image["id"] in {image.id for image in listed.images}
