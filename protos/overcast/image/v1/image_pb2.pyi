import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_STATUS_UNSPECIFIED: _ClassVar[ImageStatus]
    IMAGE_STATUS_QUEUED: _ClassVar[ImageStatus]
    IMAGE_STATUS_SAVING: _ClassVar[ImageStatus]
    IMAGE_STATUS_ACTIVE: _ClassVar[ImageStatus]
    IMAGE_STATUS_KILLED: _ClassVar[ImageStatus]
    IMAGE_STATUS_DELETED: _ClassVar[ImageStatus]
    IMAGE_STATUS_PENDING_DELETE: _ClassVar[ImageStatus]
    IMAGE_STATUS_DEACTIVATED: _ClassVar[ImageStatus]
    IMAGE_STATUS_UPLOADING: _ClassVar[ImageStatus]
    IMAGE_STATUS_IMPORTING: _ClassVar[ImageStatus]

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_PUBLIC: _ClassVar[Visibility]
    VISIBILITY_PRIVATE: _ClassVar[Visibility]
    VISIBILITY_SHARED: _ClassVar[Visibility]
    VISIBILITY_COMMUNITY: _ClassVar[Visibility]

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_PENDING: _ClassVar[MemberStatus]
    MEMBER_STATUS_ACCEPTED: _ClassVar[MemberStatus]
    MEMBER_STATUS_REJECTED: _ClassVar[MemberStatus]

class ChangeOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_OP_UNSPECIFIED: _ClassVar[ChangeOp]
    CHANGE_OP_ADD: _ClassVar[ChangeOp]
    CHANGE_OP_REPLACE: _ClassVar[ChangeOp]
    CHANGE_OP_REMOVE: _ClassVar[ChangeOp]
IMAGE_STATUS_UNSPECIFIED: ImageStatus
IMAGE_STATUS_QUEUED: ImageStatus
IMAGE_STATUS_SAVING: ImageStatus
IMAGE_STATUS_ACTIVE: ImageStatus
IMAGE_STATUS_KILLED: ImageStatus
IMAGE_STATUS_DELETED: ImageStatus
IMAGE_STATUS_PENDING_DELETE: ImageStatus
IMAGE_STATUS_DEACTIVATED: ImageStatus
IMAGE_STATUS_UPLOADING: ImageStatus
IMAGE_STATUS_IMPORTING: ImageStatus
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_PUBLIC: Visibility
VISIBILITY_PRIVATE: Visibility
VISIBILITY_SHARED: Visibility
VISIBILITY_COMMUNITY: Visibility
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_PENDING: MemberStatus
MEMBER_STATUS_ACCEPTED: MemberStatus
MEMBER_STATUS_REJECTED: MemberStatus
CHANGE_OP_UNSPECIFIED: ChangeOp
CHANGE_OP_ADD: ChangeOp
CHANGE_OP_REPLACE: ChangeOp
CHANGE_OP_REMOVE: ChangeOp

class Image(_message.Message):
    __slots__ = ("id", "name", "status", "visibility", "owner", "protected", "os_hidden", "disk_format", "container_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "created_at", "updated_at", "tags", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_FIELD_NUMBER: _ClassVar[int]
    OS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    DISK_FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    OS_HASH_ALGO_FIELD_NUMBER: _ClassVar[int]
    OS_HASH_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_DISK_FIELD_NUMBER: _ClassVar[int]
    MIN_RAM_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: ImageStatus
    visibility: Visibility
    owner: str
    protected: bool
    os_hidden: bool
    disk_format: str
    container_format: str
    size: int
    virtual_size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    min_disk: int
    min_ram: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    tags: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[ImageStatus, str]] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., owner: _Optional[str] = ..., protected: _Optional[bool] = ..., os_hidden: _Optional[bool] = ..., disk_format: _Optional[str] = ..., container_format: _Optional[str] = ..., size: _Optional[int] = ..., virtual_size: _Optional[int] = ..., checksum: _Optional[str] = ..., os_hash_algo: _Optional[str] = ..., os_hash_value: _Optional[str] = ..., min_disk: _Optional[int] = ..., min_ram: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("image_id", "member_id", "status", "created_at", "updated_at")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    member_id: str
    status: MemberStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, image_id: _Optional[str] = ..., member_id: _Optional[str] = ..., status: _Optional[_Union[MemberStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateImageRequest(_message.Message):
    __slots__ = ("id", "name", "visibility", "owner", "protected", "os_hidden", "disk_format", "container_format", "min_disk", "min_ram", "tags", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_FIELD_NUMBER: _ClassVar[int]
    OS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    DISK_FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    MIN_DISK_FIELD_NUMBER: _ClassVar[int]
    MIN_RAM_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    visibility: Visibility
    owner: str
    protected: bool
    os_hidden: bool
    disk_format: str
    container_format: str
    min_disk: int
    min_ram: int
    tags: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., owner: _Optional[str] = ..., protected: _Optional[bool] = ..., os_hidden: _Optional[bool] = ..., disk_format: _Optional[str] = ..., container_format: _Optional[str] = ..., min_disk: _Optional[int] = ..., min_ram: _Optional[int] = ..., tags: _Optional[_Iterable[str]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateImageResponse(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class UploadImageRequest(_message.Message):
    __slots__ = ("image_id", "chunk")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    chunk: bytes
    def __init__(self, image_id: _Optional[str] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadImageResponse(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class DownloadImageRequest(_message.Message):
    __slots__ = ("image_id", "offset", "length")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    offset: int
    length: int
    def __init__(self, image_id: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class DownloadHeader(_message.Message):
    __slots__ = ("image", "has_data")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    HAS_DATA_FIELD_NUMBER: _ClassVar[int]
    image: Image
    has_data: bool
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., has_data: _Optional[bool] = ...) -> None: ...

class DownloadImageResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: DownloadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[DownloadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class GetImageRequest(_message.Message):
    __slots__ = ("image_id",)
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    def __init__(self, image_id: _Optional[str] = ...) -> None: ...

class GetImageResponse(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class SortKey(_message.Message):
    __slots__ = ("key", "dir")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DIR_FIELD_NUMBER: _ClassVar[int]
    key: str
    dir: str
    def __init__(self, key: _Optional[str] = ..., dir: _Optional[str] = ...) -> None: ...

class ListImagesRequest(_message.Message):
    __slots__ = ("name", "status", "visibility", "owner", "member_status", "tags", "disk_format", "container_format", "protected", "os_hidden", "size_min", "size_max", "id", "properties", "limit", "marker", "sort")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_STATUS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DISK_FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FORMAT_FIELD_NUMBER: _ClassVar[int]
    PROTECTED_FIELD_NUMBER: _ClassVar[int]
    OS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    SIZE_MIN_FIELD_NUMBER: _ClassVar[int]
    SIZE_MAX_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    visibility: str
    owner: str
    member_status: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    disk_format: str
    container_format: str
    protected: bool
    os_hidden: bool
    size_min: int
    size_max: int
    id: str
    properties: _containers.ScalarMap[str, str]
    limit: int
    marker: str
    sort: _containers.RepeatedCompositeFieldContainer[SortKey]
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., visibility: _Optional[str] = ..., owner: _Optional[str] = ..., member_status: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., disk_format: _Optional[str] = ..., container_format: _Optional[str] = ..., protected: _Optional[bool] = ..., os_hidden: _Optional[bool] = ..., size_min: _Optional[int] = ..., size_max: _Optional[int] = ..., id: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ..., limit: _Optional[int] = ..., marker: _Optional[str] = ..., sort: _Optional[_Iterable[_Union[SortKey, _Mapping]]] = ...) -> None: ...

class ListImagesResponse(_message.Message):
    __slots__ = ("images", "next_marker")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_MARKER_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[Image]
    next_marker: str
    def __init__(self, images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., next_marker: _Optional[str] = ...) -> None: ...

class ImageChange(_message.Message):
    __slots__ = ("op", "path", "value")
    OP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    op: ChangeOp
    path: str
    value: _struct_pb2.Value
    def __init__(self, op: _Optional[_Union[ChangeOp, str]] = ..., path: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class UpdateImageRequest(_message.Message):
    __slots__ = ("image_id", "changes")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    changes: _containers.RepeatedCompositeFieldContainer[ImageChange]
    def __init__(self, image_id: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[ImageChange, _Mapping]]] = ...) -> None: ...

class UpdateImageResponse(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class DeleteImageRequest(_message.Message):
    __slots__ = ("image_id",)
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    def __init__(self, image_id: _Optional[str] = ...) -> None: ...

class DeleteImageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AddTagRequest(_message.Message):
    __slots__ = ("image_id", "tag")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    tag: str
    def __init__(self, image_id: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class AddTagResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteTagRequest(_message.Message):
    __slots__ = ("image_id", "tag")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    tag: str
    def __init__(self, image_id: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class DeleteTagResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AddMemberRequest(_message.Message):
    __slots__ = ("image_id", "member_id")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    member_id: str
    def __init__(self, image_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class AddMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class GetMemberRequest(_message.Message):
    __slots__ = ("image_id", "member_id")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    member_id: str
    def __init__(self, image_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class GetMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("image_id",)
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    def __init__(self, image_id: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class UpdateMemberRequest(_message.Message):
    __slots__ = ("image_id", "member_id", "status")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    member_id: str
    status: MemberStatus
    def __init__(self, image_id: _Optional[str] = ..., member_id: _Optional[str] = ..., status: _Optional[_Union[MemberStatus, str]] = ...) -> None: ...

class UpdateMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class DeleteMemberRequest(_message.Message):
    __slots__ = ("image_id", "member_id")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    member_id: str
    def __init__(self, image_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class DeleteMemberResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
