"""The Swift API through python-swiftclient, unchanged: containers, objects, listings,
metadata, conditional and range requests, large objects, expiry."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from swiftclient.exceptions import ClientException

from overcast.testing import wait_until


def status_of(call, *args, **kwargs) -> int:
    with pytest.raises(ClientException) as info:
        call(*args, **kwargs)
    return info.value.http_status


def test_container_and_object_round_trip(swift):
    swift.put_container("photos", headers={"X-Container-Meta-Color": "blue"})
    data = os.urandom(5000)
    etag = swift.put_object("photos", "cat.jpg", data,
                            headers={"X-Object-Meta-Owner": "alice"})
    assert etag == hashlib.md5(data).hexdigest()
    headers = swift.head_object("photos", "cat.jpg")
    assert headers["etag"] == etag
    assert headers["content-length"] == "5000"
    assert headers["content-type"] == "image/jpeg"  # detected from the name
    assert headers["x-object-meta-owner"] == "alice"
    assert "x-timestamp" in headers and "last-modified" in headers
    assert swift.get_object("photos", "cat.jpg")[1] == data
    assert swift.head_container("photos")["x-container-meta-color"] == "blue"


def test_listing_formats_prefix_delimiter_markers(swift, cluster):
    swift.put_container("listing")
    names = ["2023/a", "2024/01/x", "2024/01/y", "2024/readme", "b", "c"]
    for name in names:
        swift.put_object("listing", name, b"x" * len(name), content_type="text/plain")
    wait_until(lambda: len(swift.get_container("listing")[1]) == len(names), timeout=10)
    _, listing = swift.get_container("listing", prefix="2024/", delimiter="/")
    assert [e.get("name") or e.get("subdir") for e in listing] == ["2024/01/", "2024/readme"]
    _, listing = swift.get_container("listing", marker="2024/readme", end_marker="c")
    assert [e["name"] for e in listing] == ["b"]
    _, listing = swift.get_container("listing", limit=2, query_string="reverse=on")
    assert [e["name"] for e in listing] == ["c", "b"]
    entry = swift.get_container("listing", prefix="b")[1][0]
    assert entry == {"name": "b", "bytes": 1, "hash": hashlib.md5(b"x").hexdigest(),
                     "content_type": "text/plain", "last_modified": entry["last_modified"]}
    token = cluster.token()
    base = f"{cluster.url}/v1/AUTH_test/listing"
    plain = httpx.get(base, params={"prefix": "2024/"}, headers={"X-Auth-Token": token})
    assert plain.text == "2024/01/x\n2024/01/y\n2024/readme\n"
    xml = httpx.get(base, params={"format": "xml", "prefix": "b"},
                    headers={"X-Auth-Token": token})
    assert xml.headers["content-type"].startswith("application/xml")
    assert "<name>b</name>" in xml.text and '<container name="listing">' in xml.text
    empty = httpx.get(base, params={"prefix": "nothing"}, headers={"X-Auth-Token": token})
    assert empty.status_code == 204


def test_usage_headers(swift):
    swift.put_container("usage")
    swift.put_object("usage", "a", b"12345")
    swift.put_object("usage", "b", b"123")
    wait_until(lambda: swift.head_container("usage")["x-container-object-count"] == "2")
    assert swift.head_container("usage")["x-container-bytes-used"] == "8"
    wait_until(lambda: any(c["name"] == "usage" and c["count"] == 2
                           for c in swift.get_account()[1]), timeout=10)
    account = swift.head_account()
    assert int(account["x-account-object-count"]) >= 2
    assert int(account["x-account-container-count"]) >= 1


def test_metadata_post_and_remove(swift):
    swift.put_container("meta")
    swift.put_object("meta", "o", b"data", headers={"X-Object-Meta-A": "1"})
    swift.post_object("meta", "o", headers={"X-Object-Meta-B": "2"})
    headers = swift.head_object("meta", "o")
    assert headers["x-object-meta-b"] == "2" and "x-object-meta-a" not in headers
    assert swift.get_object("meta", "o")[1] == b"data"
    swift.post_container("meta", headers={"X-Container-Meta-K": "v"})
    assert swift.head_container("meta")["x-container-meta-k"] == "v"
    swift.post_container("meta", headers={"X-Remove-Container-Meta-K": "x"})
    assert "x-container-meta-k" not in swift.head_container("meta")
    swift.post_account(headers={"X-Account-Meta-Team": "blue"})
    assert swift.head_account()["x-account-meta-team"] == "blue"


def test_conditional_requests(swift):
    swift.put_container("cond")
    etag = swift.put_object("cond", "o", b"hello")
    assert swift.get_object("cond", "o", headers={"If-Match": etag})[1] == b"hello"
    assert status_of(swift.get_object, "cond", "o", headers={"If-Match": "nope"}) == 412
    assert status_of(swift.get_object, "cond", "o", headers={"If-None-Match": etag}) == 304
    last = swift.head_object("cond", "o")["last-modified"]
    assert status_of(swift.get_object, "cond", "o", headers={"If-Modified-Since": last}) == 304
    assert swift.get_object("cond", "o", headers={
        "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[1] == b"hello"
    assert status_of(swift.put_object, "cond", "o", b"again",
                     headers={"If-None-Match": "*"}) == 412
    assert status_of(swift.put_object, "cond", "bad", b"abc", etag="0" * 32) == 422


def test_ranges(swift, cluster):
    swift.put_container("ranges")
    data = bytes(range(256)) * 4
    swift.put_object("ranges", "o", data)
    headers, body = swift.get_object("ranges", "o", headers={"Range": "bytes=10-19"})
    assert body == data[10:20]
    assert headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert swift.get_object("ranges", "o", headers={"Range": "bytes=-5"})[1] == data[-5:]
    assert swift.get_object("ranges", "o", headers={"Range": "bytes=1000-"})[1] == data[1000:]
    headers, body = swift.get_object("ranges", "o", headers={"Range": "bytes=0-1,5-6"})
    assert headers["content-type"].startswith("multipart/byteranges")
    assert b"Content-Range: bytes 0-1/1024" in body and b"Content-Range: bytes 5-6/1024" in body
    assert status_of(swift.get_object, "ranges", "o",
                     headers={"Range": "bytes=5000-6000"}) == 416
    # A malformed range is ignored: the whole object.
    assert swift.get_object("ranges", "o", headers={"Range": "bytes=x-y"})[1] == data


def test_chunked_upload_and_streamed_large_object(swift):
    swift.put_container("chunked")
    parts = [os.urandom(700_000) for _ in range(4)]
    etag = swift.put_object("chunked", "big", iter(parts), chunk_size=65536)
    data = b"".join(parts)
    assert etag == hashlib.md5(data).hexdigest()
    headers, body = swift.get_object("chunked", "big")
    assert body == data and headers["content-length"] == str(len(data))
    _, body = swift.get_object("chunked", "big", headers={"Range": "bytes=1500000-1500009"})
    assert body == data[1500000:1500010]


def test_segmented_uploads_with_the_swift_cli(cluster, tmp_path, swift):
    """``swift upload --segment-size`` (SLO, from /info) and ``--use-dlo``; downloads
    check the MD5 of what they read."""
    source = tmp_path / "big.iso"
    data = os.urandom(2_500_000)
    source.write_bytes(data)
    cli = os.path.join(os.path.dirname(sys.executable), "swift")
    auth = ["-A", cluster.auth_url, "-U", "test:tester", "-K", "testing"]
    for mode, extra in (("slo", []), ("dlo", ["--use-dlo"])):
        subprocess.run([cli, *auth, "upload", f"seg-{mode}", str(source), "--object-name",
                        "big.iso", "--segment-size", "1000000", *extra], check=True,
                       capture_output=True, timeout=60)
        headers = swift.head_object(f"seg-{mode}", "big.iso")
        assert headers["content-length"] == str(len(data))
        manifest_header = "x-static-large-object" if mode == "slo" else "x-object-manifest"
        assert manifest_header in headers
        out = tmp_path / f"out-{mode}"
        subprocess.run([cli, *auth, "download", f"seg-{mode}", "big.iso", "-o", str(out)],
                       check=True, capture_output=True, timeout=60)
        assert out.read_bytes() == data
        _, body = swift.get_object(f"seg-{mode}", "big.iso",
                                   headers={"Range": "bytes=999990-1000009"})
        assert body == data[999990:1000010]
    stat = subprocess.run([cli, *auth, "stat", "seg-slo", "big.iso"], check=True,
                          capture_output=True, text=True, timeout=30).stdout
    assert "Manifest" in stat or "ETag" in stat
    subprocess.run([cli, *auth, "delete", "seg-slo", "big.iso"], check=True,
                   capture_output=True, timeout=60)
    assert status_of(swift.head_object, "seg-slo", "big.iso") == 404
    wait_until(lambda: not swift.get_container("seg-slo_segments")[1], timeout=10)


def test_slo_manifest_validation(swift):
    swift.put_container("slo")
    etag = swift.put_object("slo", "seg1", b"a" * 10)
    good = [{"path": "/slo/seg1", "etag": etag, "size_bytes": 10}]
    swift.put_object("slo", "man", json.dumps(good), query_string="multipart-manifest=put")
    assert swift.get_object("slo", "man")[1] == b"a" * 10
    raw = json.loads(swift.get_object("slo", "man",
                                      query_string="multipart-manifest=get")[1])
    assert raw[0]["name"] == "/slo/seg1" and raw[0]["bytes"] == 10
    for bad in ("not json", json.dumps([{"path": "/slo/seg1", "etag": "0" * 32}]),
                json.dumps([{"path": "/slo/missing"}]), json.dumps([{"etag": None}])):
        assert status_of(swift.put_object, "slo", "bad", bad,
                         query_string="multipart-manifest=put") == 400


def test_expiring_objects(swift):
    swift.put_container("expiry")
    # Long enough that the HEAD below still finds it on a busy machine.
    put_at = time.time()
    swift.put_object("expiry", "soon", b"x", headers={"X-Delete-After": "4"})
    headers = swift.head_object("expiry", "soon")
    assert put_at + 3 <= int(headers["x-delete-at"]) <= time.time() + 5
    wait_until(lambda: status_of_head(swift, "expiry", "soon") == 404, timeout=15)
    assert status_of(swift.put_object, "expiry", "past", b"x",
                     headers={"X-Delete-At": "1000"}) == 400


def status_of_head(swift, container, obj) -> int:
    try:
        swift.head_object(container, obj)
        return 200
    except ClientException as exc:
        return exc.http_status


def test_deletes(swift):
    swift.put_container("del")
    swift.put_object("del", "o", b"x")
    assert status_of(swift.delete_container, "del") == 409
    swift.delete_object("del", "o")
    assert status_of(swift.get_object, "del", "o") == 404
    assert status_of(swift.delete_object, "del", "o") == 404
    wait_until(lambda: swift.head_container("del")["x-container-object-count"] == "0")
    swift.delete_container("del")
    assert status_of(swift.head_container, "del") == 404
    assert status_of(swift.put_object, "del", "o", b"x") == 404


def test_info_and_auth(cluster):
    info = httpx.get(f"{cluster.url}/info").json()
    assert info["swift"]["max_file_size"] == 5 * 1024 ** 3 + 2
    assert "slo" in info
    assert httpx.get(f"{cluster.url}/v1/AUTH_test").status_code == 401
    assert httpx.get(f"{cluster.url}/v1/AUTH_test",
                     headers={"X-Auth-Token": "AUTH_tkbogus"}).status_code == 401
    assert httpx.get(f"{cluster.url}/v1/AUTH_other",
                     headers={"X-Auth-Token": cluster.token()}).status_code == 403
    assert httpx.get(cluster.auth_url, headers={"X-Auth-User": "test:tester",
                                                "X-Auth-Key": "wrong"}).status_code == 401
