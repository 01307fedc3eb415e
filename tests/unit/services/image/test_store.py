"""The store contract, for the file store and its in-memory twin alike."""
from __future__ import annotations

import hashlib

import pytest

from overcast import errors
from services.image.store import FileStore, ImageStore, MemoryStore
from tests.unit.services.image.image_helpers import chunks_of


@pytest.fixture(params=["file", "memory"])
def any_store(request, tmp_path) -> ImageStore:
    return FileStore(tmp_path / "store") if request.param == "file" else MemoryStore()


async def test_write_then_read_in_chunks(any_store: ImageStore):
    data = bytes(range(256)) * 1000
    stored = await any_store.write("img", chunks_of(data, 1000))
    assert stored.size == len(data)
    assert stored.md5 == hashlib.md5(data).hexdigest()
    assert stored.sha512 == hashlib.sha512(data).hexdigest()
    assert any_store.exists("img")
    chunks = [c async for c in any_store.open("img", chunk_size=4096)]
    assert b"".join(chunks) == data and max(map(len, chunks)) == 4096


async def test_failed_write_leaves_nothing(any_store: ImageStore):
    async def failing():
        yield b"x" * 10
        raise OSError("boom")

    with pytest.raises(OSError):
        await any_store.write("img", failing())
    assert not any_store.exists("img")
    with pytest.raises(errors.NotFound):
        any_store.open("img")


async def test_size_limit(any_store: ImageStore):
    with pytest.raises(errors.PayloadTooLarge):
        await any_store.write("img", chunks_of(b"x" * 100, 10), max_size=50)
    assert not any_store.exists("img")


async def test_delete_is_idempotent(any_store: ImageStore):
    await any_store.write("img", chunks_of(b"data"))
    any_store.delete("img")
    any_store.delete("img")
    assert not any_store.exists("img")


async def test_reader_survives_delete(tmp_path):
    store = FileStore(tmp_path)
    await store.write("img", chunks_of(b"y" * 200_000))
    reader = store.open("img", chunk_size=1000)
    first = await anext(reader)
    store.delete("img")
    rest = b"".join([c async for c in reader])
    assert len(first + rest) == 200_000


async def test_file_store_cleans_interrupted_writes(tmp_path):
    store = FileStore(tmp_path)
    (store.tmp / "img.partial").write_bytes(b"half")
    store.cleanup()
    assert list(store.tmp.iterdir()) == []
    with pytest.raises(errors.BadRequest):
        store.path("../escape")


@pytest.mark.parametrize(("offset", "length"), [(0, 1), (999, 2), (5000, None), (255_999, 1),
                                                (1000, 70_000)])
async def test_open_reads_only_the_requested_bytes(any_store: ImageStore, offset, length):
    data = bytes(range(256)) * 1000
    await any_store.write("img", chunks_of(data, 1000))
    got = b"".join([c async for c in any_store.open("img", chunk_size=4096, offset=offset,
                                                    length=length)])
    assert got == (data[offset:] if length is None else data[offset:offset + length])
