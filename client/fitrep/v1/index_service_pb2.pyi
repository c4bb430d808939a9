from fitrep.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGN_MODE_UNSPECIFIED: _ClassVar[AssignMode]
    ASSIGN_MODE_UPSERT: _ClassVar[AssignMode]
    ASSIGN_MODE_IF_ABSENT: _ClassVar[AssignMode]
ASSIGN_MODE_UNSPECIFIED: AssignMode
ASSIGN_MODE_UPSERT: AssignMode
ASSIGN_MODE_IF_ABSENT: AssignMode

class AssignItemsRequest(_message.Message):
    __slots__ = ("items", "request_id", "mode")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.EmbeddedItem]
    request_id: str
    mode: AssignMode
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.EmbeddedItem, _Mapping]]] = ..., request_id: _Optional[str] = ..., mode: _Optional[_Union[AssignMode, str]] = ...) -> None: ...

class AssignItemsResponse(_message.Message):
    __slots__ = ("assignments", "request_id", "representative_changes")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_CHANGES_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[_common_pb2.Assignment]
    request_id: str
    representative_changes: _containers.RepeatedCompositeFieldContainer[_common_pb2.RepresentativeChange]
    def __init__(self, assignments: _Optional[_Iterable[_Union[_common_pb2.Assignment, _Mapping]]] = ..., request_id: _Optional[str] = ..., representative_changes: _Optional[_Iterable[_Union[_common_pb2.RepresentativeChange, _Mapping]]] = ...) -> None: ...

class BuildIndexRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.EmbeddedItem]
    def __init__(self, items: _Optional[_Iterable[_Union[_common_pb2.EmbeddedItem, _Mapping]]] = ...) -> None: ...

class BuildProgress(_message.Message):
    __slots__ = ("stage", "done", "total")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class BuildIndexResponse(_message.Message):
    __slots__ = ("progress", "assignments")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    progress: BuildProgress
    assignments: AssignmentChunk
    def __init__(self, progress: _Optional[_Union[BuildProgress, _Mapping]] = ..., assignments: _Optional[_Union[AssignmentChunk, _Mapping]] = ...) -> None: ...

class AssignmentChunk(_message.Message):
    __slots__ = ("assignments",)
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[_common_pb2.Assignment]
    def __init__(self, assignments: _Optional[_Iterable[_Union[_common_pb2.Assignment, _Mapping]]] = ...) -> None: ...

class QueryNeighborsRequest(_message.Message):
    __slots__ = ("item_ids", "items", "k")
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    items: _containers.RepeatedCompositeFieldContainer[_common_pb2.EmbeddedItem]
    k: int
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ..., items: _Optional[_Iterable[_Union[_common_pb2.EmbeddedItem, _Mapping]]] = ..., k: _Optional[int] = ...) -> None: ...

class Neighbor(_message.Message):
    __slots__ = ("item_id", "cluster_id", "similarity")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    cluster_id: str
    similarity: float
    def __init__(self, item_id: _Optional[str] = ..., cluster_id: _Optional[str] = ..., similarity: _Optional[float] = ...) -> None: ...

class NeighborList(_message.Message):
    __slots__ = ("query_id", "neighbors")
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    NEIGHBORS_FIELD_NUMBER: _ClassVar[int]
    query_id: str
    neighbors: _containers.RepeatedCompositeFieldContainer[Neighbor]
    def __init__(self, query_id: _Optional[str] = ..., neighbors: _Optional[_Iterable[_Union[Neighbor, _Mapping]]] = ...) -> None: ...

class QueryNeighborsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[NeighborList]
    def __init__(self, results: _Optional[_Iterable[_Union[NeighborList, _Mapping]]] = ...) -> None: ...

class GetClusterRequest(_message.Message):
    __slots__ = ("cluster_id",)
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    def __init__(self, cluster_id: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_id", "member_ids", "aliases", "family_id", "representative_id")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    FAMILY_ID_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    family_id: str
    representative_id: str
    def __init__(self, cluster_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., aliases: _Optional[_Iterable[str]] = ..., family_id: _Optional[str] = ..., representative_id: _Optional[str] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("item_a", "item_b")
    ITEM_A_FIELD_NUMBER: _ClassVar[int]
    ITEM_B_FIELD_NUMBER: _ClassVar[int]
    item_a: str
    item_b: str
    def __init__(self, item_a: _Optional[str] = ..., item_b: _Optional[str] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("item_a", "item_b", "score", "threshold", "duplicate", "per_level", "gates", "cluster_a", "cluster_b", "features", "verdict", "pair_duplicate", "family_score", "family_a", "family_b")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ITEM_A_FIELD_NUMBER: _ClassVar[int]
    ITEM_B_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    PER_LEVEL_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_A_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_B_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    PAIR_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_SCORE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_A_FIELD_NUMBER: _ClassVar[int]
    FAMILY_B_FIELD_NUMBER: _ClassVar[int]
    item_a: str
    item_b: str
    score: float
    threshold: float
    duplicate: bool
    per_level: _containers.RepeatedCompositeFieldContainer[_common_pb2.LevelScore]
    gates: _containers.RepeatedCompositeFieldContainer[_common_pb2.Gate]
    cluster_a: str
    cluster_b: str
    features: _containers.ScalarMap[str, float]
    verdict: str
    pair_duplicate: bool
    family_score: float
    family_a: str
    family_b: str
    def __init__(self, item_a: _Optional[str] = ..., item_b: _Optional[str] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., duplicate: _Optional[bool] = ..., per_level: _Optional[_Iterable[_Union[_common_pb2.LevelScore, _Mapping]]] = ..., gates: _Optional[_Iterable[_Union[_common_pb2.Gate, _Mapping]]] = ..., cluster_a: _Optional[str] = ..., cluster_b: _Optional[str] = ..., features: _Optional[_Mapping[str, float]] = ..., verdict: _Optional[str] = ..., pair_duplicate: _Optional[bool] = ..., family_score: _Optional[float] = ..., family_a: _Optional[str] = ..., family_b: _Optional[str] = ...) -> None: ...

class DeleteItemsRequest(_message.Message):
    __slots__ = ("item_ids",)
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteItemsResponse(_message.Message):
    __slots__ = ("deleted", "representative_changes")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_CHANGES_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    representative_changes: _containers.RepeatedCompositeFieldContainer[_common_pb2.RepresentativeChange]
    def __init__(self, deleted: _Optional[int] = ..., representative_changes: _Optional[_Iterable[_Union[_common_pb2.RepresentativeChange, _Mapping]]] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("path", "items")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    path: str
    items: int
    def __init__(self, path: _Optional[str] = ..., items: _Optional[int] = ...) -> None: ...

class GetIndexInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IndexInfo(_message.Message):
    __slots__ = ("items", "clusters", "reducer", "faiss_index", "index_version", "level_weights", "threshold", "server_version")
    class LevelWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    REDUCER_FIELD_NUMBER: _ClassVar[int]
    FAISS_INDEX_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    items: int
    clusters: int
    reducer: str
    faiss_index: str
    index_version: int
    level_weights: _containers.ScalarMap[str, float]
    threshold: float
    server_version: str
    def __init__(self, items: _Optional[int] = ..., clusters: _Optional[int] = ..., reducer: _Optional[str] = ..., faiss_index: _Optional[str] = ..., index_version: _Optional[int] = ..., level_weights: _Optional[_Mapping[str, float]] = ..., threshold: _Optional[float] = ..., server_version: _Optional[str] = ...) -> None: ...
