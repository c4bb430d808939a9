from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    PRIMARY: _ClassVar[Level]
    AUXILIARY: _ClassVar[Level]
    CONTENT: _ClassVar[Level]
    FORM: _ClassVar[Level]
    OBJECTIVE: _ClassVar[Level]
    SUBJECTIVE: _ClassVar[Level]
    VISUAL: _ClassVar[Level]

class ItemChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_CHANGE_UNSPECIFIED: _ClassVar[ItemChange]
    ITEM_CHANGE_ADDED: _ClassVar[ItemChange]
    ITEM_CHANGE_UNCHANGED: _ClassVar[ItemChange]
    ITEM_CHANGE_UPDATED: _ClassVar[ItemChange]
LEVEL_UNSPECIFIED: Level
PRIMARY: Level
AUXILIARY: Level
CONTENT: Level
FORM: Level
OBJECTIVE: Level
SUBJECTIVE: Level
VISUAL: Level
ITEM_CHANGE_UNSPECIFIED: ItemChange
ITEM_CHANGE_ADDED: ItemChange
ITEM_CHANGE_UNCHANGED: ItemChange
ITEM_CHANGE_UPDATED: ItemChange

class Item(_message.Message):
    __slots__ = ("id", "title", "text", "image", "image_uri", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URI_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    text: str
    image: bytes
    image_uri: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., image: _Optional[bytes] = ..., image_uri: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Array(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class LevelConcepts(_message.Message):
    __slots__ = ("level", "concepts")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    level: Level
    concepts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, level: _Optional[_Union[Level, str]] = ..., concepts: _Optional[_Iterable[str]] = ...) -> None: ...

class ConceptSet(_message.Message):
    __slots__ = ("item_id", "levels", "anchors", "image_features", "backend", "version", "profile")
    class AnchorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StringList
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StringList, _Mapping]] = ...) -> None: ...
    class ImageFeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Array
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Array, _Mapping]] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    ANCHORS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    levels: _containers.RepeatedCompositeFieldContainer[LevelConcepts]
    anchors: _containers.MessageMap[str, StringList]
    image_features: _containers.MessageMap[str, Array]
    backend: str
    version: str
    profile: ItemProfile
    def __init__(self, item_id: _Optional[str] = ..., levels: _Optional[_Iterable[_Union[LevelConcepts, _Mapping]]] = ..., anchors: _Optional[_Mapping[str, StringList]] = ..., image_features: _Optional[_Mapping[str, Array]] = ..., backend: _Optional[str] = ..., version: _Optional[str] = ..., profile: _Optional[_Union[ItemProfile, _Mapping]] = ...) -> None: ...

class ItemProfile(_message.Message):
    __slots__ = ("filled_fields", "image_pixels", "numbers")
    class NumbersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    FILLED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PIXELS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    filled_fields: int
    image_pixels: int
    numbers: _containers.ScalarMap[str, float]
    def __init__(self, filled_fields: _Optional[int] = ..., image_pixels: _Optional[int] = ..., numbers: _Optional[_Mapping[str, float]] = ...) -> None: ...

class LevelVector(_message.Message):
    __slots__ = ("level", "data", "dim")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    level: Level
    data: bytes
    dim: int
    def __init__(self, level: _Optional[_Union[Level, str]] = ..., data: _Optional[bytes] = ..., dim: _Optional[int] = ...) -> None: ...

class LevelEmbeddings(_message.Message):
    __slots__ = ("item_id", "vectors", "encoder")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    vectors: _containers.RepeatedCompositeFieldContainer[LevelVector]
    encoder: str
    def __init__(self, item_id: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[LevelVector, _Mapping]]] = ..., encoder: _Optional[str] = ...) -> None: ...

class EmbeddedItem(_message.Message):
    __slots__ = ("concepts", "embeddings")
    CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    concepts: ConceptSet
    embeddings: LevelEmbeddings
    def __init__(self, concepts: _Optional[_Union[ConceptSet, _Mapping]] = ..., embeddings: _Optional[_Union[LevelEmbeddings, _Mapping]] = ...) -> None: ...

class LevelScore(_message.Message):
    __slots__ = ("level", "similarity", "weight", "present")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    level: Level
    similarity: float
    weight: float
    present: bool
    def __init__(self, level: _Optional[_Union[Level, str]] = ..., similarity: _Optional[float] = ..., weight: _Optional[float] = ..., present: _Optional[bool] = ...) -> None: ...

class Gate(_message.Message):
    __slots__ = ("name", "fired", "detail", "hard")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIRED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    HARD_FIELD_NUMBER: _ClassVar[int]
    name: str
    fired: bool
    detail: str
    hard: bool
    def __init__(self, name: _Optional[str] = ..., fired: _Optional[bool] = ..., detail: _Optional[str] = ..., hard: _Optional[bool] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("item_id", "cluster_id", "nearest_item_id", "similarity", "per_level", "is_new_cluster", "confidence", "family_id", "previous_cluster_id", "change", "representative_id")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    NEAREST_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    PER_LEVEL_FIELD_NUMBER: _ClassVar[int]
    IS_NEW_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    cluster_id: str
    nearest_item_id: str
    similarity: float
    per_level: _containers.RepeatedCompositeFieldContainer[LevelScore]
    is_new_cluster: bool
    confidence: float
    family_id: str
    previous_cluster_id: str
    change: ItemChange
    representative_id: str
    def __init__(self, item_id: _Optional[str] = ..., cluster_id: _Optional[str] = ..., nearest_item_id: _Optional[str] = ..., similarity: _Optional[float] = ..., per_level: _Optional[_Iterable[_Union[LevelScore, _Mapping]]] = ..., is_new_cluster: _Optional[bool] = ..., confidence: _Optional[float] = ..., family_id: _Optional[str] = ..., previous_cluster_id: _Optional[str] = ..., change: _Optional[_Union[ItemChange, str]] = ..., representative_id: _Optional[str] = ...) -> None: ...

class RepresentativeChange(_message.Message):
    __slots__ = ("cluster_id", "previous_id", "representative_id")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ID_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    previous_id: str
    representative_id: str
    def __init__(self, cluster_id: _Optional[str] = ..., previous_id: _Optional[str] = ..., representative_id: _Optional[str] = ...) -> None: ...
