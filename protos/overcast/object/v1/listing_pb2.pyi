from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatabasePath(_message.Message):
    __slots__ = ("account", "container", "partition")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    account: str
    container: str
    partition: int
    def __init__(self, account: _Optional[str] = ..., container: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class MetaValue(_message.Message):
    __slots__ = ("value", "timestamp")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    value: str
    timestamp: str
    def __init__(self, value: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...

class DatabaseInfo(_message.Message):
    __slots__ = ("exists", "deleted", "put_timestamp", "delete_timestamp", "created_at", "object_count", "bytes_used", "container_count", "metadata", "max_row", "db_id")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MetaValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MetaValue, _Mapping]] = ...) -> None: ...
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    PUT_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_USED_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_COUNT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MAX_ROW_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    deleted: bool
    put_timestamp: str
    delete_timestamp: str
    created_at: str
    object_count: int
    bytes_used: int
    container_count: int
    metadata: _containers.MessageMap[str, MetaValue]
    max_row: int
    db_id: str
    def __init__(self, exists: _Optional[bool] = ..., deleted: _Optional[bool] = ..., put_timestamp: _Optional[str] = ..., delete_timestamp: _Optional[str] = ..., created_at: _Optional[str] = ..., object_count: _Optional[int] = ..., bytes_used: _Optional[int] = ..., container_count: _Optional[int] = ..., metadata: _Optional[_Mapping[str, MetaValue]] = ..., max_row: _Optional[int] = ..., db_id: _Optional[str] = ...) -> None: ...

class ObjectRow(_message.Message):
    __slots__ = ("name", "timestamp", "size", "content_type", "etag", "deleted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    name: str
    timestamp: str
    size: int
    content_type: str
    etag: str
    deleted: bool
    def __init__(self, name: _Optional[str] = ..., timestamp: _Optional[str] = ..., size: _Optional[int] = ..., content_type: _Optional[str] = ..., etag: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ContainerRow(_message.Message):
    __slots__ = ("name", "put_timestamp", "delete_timestamp", "object_count", "bytes_used", "stats_timestamp", "deleted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PUT_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OBJECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_USED_FIELD_NUMBER: _ClassVar[int]
    STATS_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    name: str
    put_timestamp: str
    delete_timestamp: str
    object_count: int
    bytes_used: int
    stats_timestamp: str
    deleted: bool
    def __init__(self, name: _Optional[str] = ..., put_timestamp: _Optional[str] = ..., delete_timestamp: _Optional[str] = ..., object_count: _Optional[int] = ..., bytes_used: _Optional[int] = ..., stats_timestamp: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class PutDatabaseRequest(_message.Message):
    __slots__ = ("path", "timestamp", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MetaValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MetaValue, _Mapping]] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    timestamp: str
    metadata: _containers.MessageMap[str, MetaValue]
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., timestamp: _Optional[str] = ..., metadata: _Optional[_Mapping[str, MetaValue]] = ...) -> None: ...

class PutDatabaseResponse(_message.Message):
    __slots__ = ("created",)
    CREATED_FIELD_NUMBER: _ClassVar[int]
    created: bool
    def __init__(self, created: _Optional[bool] = ...) -> None: ...

class GetDatabaseInfoRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ...) -> None: ...

class GetDatabaseInfoResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: DatabaseInfo
    def __init__(self, info: _Optional[_Union[DatabaseInfo, _Mapping]] = ...) -> None: ...

class PostDatabaseRequest(_message.Message):
    __slots__ = ("path", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: MetaValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[MetaValue, _Mapping]] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    metadata: _containers.MessageMap[str, MetaValue]
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., metadata: _Optional[_Mapping[str, MetaValue]] = ...) -> None: ...

class PostDatabaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteDatabaseRequest(_message.Message):
    __slots__ = ("path", "timestamp")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    timestamp: str
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., timestamp: _Optional[str] = ...) -> None: ...

class DeleteDatabaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDatabaseRequest(_message.Message):
    __slots__ = ("path", "prefix", "delimiter", "marker", "end_marker", "limit", "reverse")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    END_MARKER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REVERSE_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    prefix: str
    delimiter: str
    marker: str
    end_marker: str
    limit: int
    reverse: bool
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., prefix: _Optional[str] = ..., delimiter: _Optional[str] = ..., marker: _Optional[str] = ..., end_marker: _Optional[str] = ..., limit: _Optional[int] = ..., reverse: _Optional[bool] = ...) -> None: ...

class ListEntry(_message.Message):
    __slots__ = ("object", "container", "subdir")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    SUBDIR_FIELD_NUMBER: _ClassVar[int]
    object: ObjectRow
    container: ContainerRow
    subdir: str
    def __init__(self, object: _Optional[_Union[ObjectRow, _Mapping]] = ..., container: _Optional[_Union[ContainerRow, _Mapping]] = ..., subdir: _Optional[str] = ...) -> None: ...

class ListDatabaseResponse(_message.Message):
    __slots__ = ("info", "entries")
    INFO_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    info: DatabaseInfo
    entries: _containers.RepeatedCompositeFieldContainer[ListEntry]
    def __init__(self, info: _Optional[_Union[DatabaseInfo, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[ListEntry, _Mapping]]] = ...) -> None: ...

class MergeRowsRequest(_message.Message):
    __slots__ = ("path", "objects", "containers")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    objects: _containers.RepeatedCompositeFieldContainer[ObjectRow]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerRow]
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., objects: _Optional[_Iterable[_Union[ObjectRow, _Mapping]]] = ..., containers: _Optional[_Iterable[_Union[ContainerRow, _Mapping]]] = ...) -> None: ...

class MergeRowsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SyncDatabaseRequest(_message.Message):
    __slots__ = ("path", "info", "objects", "containers", "max_row")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    MAX_ROW_FIELD_NUMBER: _ClassVar[int]
    path: DatabasePath
    info: DatabaseInfo
    objects: _containers.RepeatedCompositeFieldContainer[ObjectRow]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerRow]
    max_row: int
    def __init__(self, path: _Optional[_Union[DatabasePath, _Mapping]] = ..., info: _Optional[_Union[DatabaseInfo, _Mapping]] = ..., objects: _Optional[_Iterable[_Union[ObjectRow, _Mapping]]] = ..., containers: _Optional[_Iterable[_Union[ContainerRow, _Mapping]]] = ..., max_row: _Optional[int] = ...) -> None: ...

class SyncDatabaseResponse(_message.Message):
    __slots__ = ("sync_point",)
    SYNC_POINT_FIELD_NUMBER: _ClassVar[int]
    sync_point: int
    def __init__(self, sync_point: _Optional[int] = ...) -> None: ...
