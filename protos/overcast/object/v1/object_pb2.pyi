from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ObjectPath(_message.Message):
    __slots__ = ("account", "container", "object", "partition")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    account: str
    container: str
    object: str
    partition: int
    def __init__(self, account: _Optional[str] = ..., container: _Optional[str] = ..., object: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class ContainerTarget(_message.Message):
    __slots__ = ("address", "partition")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    address: str
    partition: int
    def __init__(self, address: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class ObjectState(_message.Message):
    __slots__ = ("exists", "timestamp", "size", "etag", "content_type", "headers", "meta_timestamp", "deleted")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    META_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    timestamp: str
    size: int
    etag: str
    content_type: str
    headers: _containers.ScalarMap[str, str]
    meta_timestamp: str
    deleted: bool
    def __init__(self, exists: _Optional[bool] = ..., timestamp: _Optional[str] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., content_type: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., meta_timestamp: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class PutHeader(_message.Message):
    __slots__ = ("path", "timestamp", "content_type", "headers", "expected_etag", "content_length", "container_updates")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ETAG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_UPDATES_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    timestamp: str
    content_type: str
    headers: _containers.ScalarMap[str, str]
    expected_etag: str
    content_length: int
    container_updates: _containers.RepeatedCompositeFieldContainer[ContainerTarget]
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ..., timestamp: _Optional[str] = ..., content_type: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., expected_etag: _Optional[str] = ..., content_length: _Optional[int] = ..., container_updates: _Optional[_Iterable[_Union[ContainerTarget, _Mapping]]] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: PutHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[PutHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("etag", "size", "superseded")
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    etag: str
    size: int
    superseded: bool
    def __init__(self, etag: _Optional[str] = ..., size: _Optional[int] = ..., superseded: _Optional[bool] = ...) -> None: ...

class PutObjectStreamRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: PutHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[PutHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class PutObjectStreamResponse(_message.Message):
    __slots__ = ("etag", "size", "superseded")
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    etag: str
    size: int
    superseded: bool
    def __init__(self, etag: _Optional[str] = ..., size: _Optional[int] = ..., superseded: _Optional[bool] = ...) -> None: ...

class GetObjectRequest(_message.Message):
    __slots__ = ("path", "max_inline")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_INLINE_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    max_inline: int
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ..., max_inline: _Optional[int] = ...) -> None: ...

class GetObjectResponse(_message.Message):
    __slots__ = ("state", "inline", "data")
    STATE_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    state: ObjectState
    inline: bool
    data: bytes
    def __init__(self, state: _Optional[_Union[ObjectState, _Mapping]] = ..., inline: _Optional[bool] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetObjectStreamRequest(_message.Message):
    __slots__ = ("path", "offset", "length", "timestamp")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    offset: int
    length: int
    timestamp: str
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., timestamp: _Optional[str] = ...) -> None: ...

class GetObjectStreamResponse(_message.Message):
    __slots__ = ("state", "chunk")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    state: ObjectState
    chunk: bytes
    def __init__(self, state: _Optional[_Union[ObjectState, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class HeadObjectRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ...) -> None: ...

class HeadObjectResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: ObjectState
    def __init__(self, state: _Optional[_Union[ObjectState, _Mapping]] = ...) -> None: ...

class PostObjectRequest(_message.Message):
    __slots__ = ("path", "timestamp", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    timestamp: str
    headers: _containers.ScalarMap[str, str]
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ..., timestamp: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PostObjectResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("path", "timestamp", "container_updates")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_UPDATES_FIELD_NUMBER: _ClassVar[int]
    path: ObjectPath
    timestamp: str
    container_updates: _containers.RepeatedCompositeFieldContainer[ContainerTarget]
    def __init__(self, path: _Optional[_Union[ObjectPath, _Mapping]] = ..., timestamp: _Optional[str] = ..., container_updates: _Optional[_Iterable[_Union[ContainerTarget, _Mapping]]] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class GetPartitionHashesRequest(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class SuffixHashes(_message.Message):
    __slots__ = ("suffixes",)
    class SuffixesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUFFIXES_FIELD_NUMBER: _ClassVar[int]
    suffixes: _containers.ScalarMap[str, str]
    def __init__(self, suffixes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetPartitionHashesResponse(_message.Message):
    __slots__ = ("partitions",)
    class PartitionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: SuffixHashes
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[SuffixHashes, _Mapping]] = ...) -> None: ...
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.MessageMap[int, SuffixHashes]
    def __init__(self, partitions: _Optional[_Mapping[int, SuffixHashes]] = ...) -> None: ...

class ListSuffixesRequest(_message.Message):
    __slots__ = ("partition", "suffixes")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    SUFFIXES_FIELD_NUMBER: _ClassVar[int]
    partition: int
    suffixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partition: _Optional[int] = ..., suffixes: _Optional[_Iterable[str]] = ...) -> None: ...

class HashFiles(_message.Message):
    __slots__ = ("hash", "suffix", "files")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SUFFIX_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    hash: str
    suffix: str
    files: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hash: _Optional[str] = ..., suffix: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSuffixesResponse(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedCompositeFieldContainer[HashFiles]
    def __init__(self, hashes: _Optional[_Iterable[_Union[HashFiles, _Mapping]]] = ...) -> None: ...

class FileHeader(_message.Message):
    __slots__ = ("partition", "hash", "name", "size")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    partition: int
    hash: str
    name: str
    size: int
    def __init__(self, partition: _Optional[int] = ..., hash: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class PushFilesRequest(_message.Message):
    __slots__ = ("file", "chunk")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    file: FileHeader
    chunk: bytes
    def __init__(self, file: _Optional[_Union[FileHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class PushFilesResponse(_message.Message):
    __slots__ = ("received",)
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    received: int
    def __init__(self, received: _Optional[int] = ...) -> None: ...
