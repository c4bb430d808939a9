from fitrep.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExtractConceptsRequest(_message.Message):
    __slots__ = ("items", "skip_embeddings", "request_id")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SKIP_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.Item]
    skip_embeddings: bool
    request_id: str
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.Item, _Mapping]]] = ..., skip_embeddings: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExtractConceptsResponse(_message.Message):
    __slots__ = ("items", "request_id")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.EmbeddedItem]
    request_id: str
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.EmbeddedItem, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetConceptInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConceptInfo(_message.Message):
    __slots__ = ("backend", "backend_version", "encoder", "level_dims", "max_batch", "server_version", "stats")
    class LevelDimsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BACKEND_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_DIMS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    backend_version: str
    encoder: str
    level_dims: _containers.ScalarMap[str, int]
    max_batch: int
    server_version: str
    stats: _containers.ScalarMap[str, float]
    def __init__(self, backend: _Optional[str] = ..., backend_version: _Optional[str] = ..., encoder: _Optional[str] = ..., level_dims: _Optional[_Mapping[str, int]] = ..., max_batch: _Optional[int] = ..., server_version: _Optional[str] = ..., stats: _Optional[_Mapping[str, float]] = ...) -> None: ...
