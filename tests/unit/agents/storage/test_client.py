"""The node's typed client: what a PUT looks like on the wire."""
from __future__ import annotations

from agents.storage import client
from agents.storage.client import ObjectUpload, object_path


def test_an_upload_becomes_one_put_header_per_replica():
    upload = ObjectUpload(path=object_path("AUTH_a", "c", "o", 7), timestamp="1.00000",
                          content_type="text/plain", headers={"X-Object-Meta-A": "1"},
                          expected_etag="abc")
    header = client._put_header(upload, ("127.0.0.1:6201", 3))
    assert (header.path.object, header.path.partition, header.timestamp) == ("o", 7, "1.00000")
    assert dict(header.headers) == {"X-Object-Meta-A": "1"}
    assert header.expected_etag == "abc"
    assert header.content_length == -1  # unknown until the body ends
    assert [(t.address, t.partition) for t in header.container_updates] == [
        ("127.0.0.1:6201", 3)]
    sized = ObjectUpload(path=upload.path, timestamp="1.00000", content_type="text/plain",
                         headers={}, content_length=5)
    header = client._put_header(sized, None)
    assert header.content_length == 5
    assert list(header.container_updates) == []
