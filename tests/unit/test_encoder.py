import numpy as np
from fitrep.domain import ConceptSet, Level

from mllm_server.chie.encoder import LevelEncoder
from tests.conftest import hash_embed


def test_each_distinct_string_is_encoded_once():
    calls: list[int] = []

    def embed(texts):
        calls.append(len(texts))
        return hash_embed(texts)

    enc = LevelEncoder(embed=embed)
    sets = [
        ConceptSet("a", {Level.PRIMARY: ["sony", "camera"], Level.FORM: ["box"]}),
        ConceptSet("b", {Level.PRIMARY: ["sony", "camera"], Level.FORM: ["box"]}),
    ]
    first = enc.encode(sets)
    enc.encode(sets)
    assert calls == [2]  # two distinct strings, then all cached
    assert np.allclose(first[0].vectors[Level.PRIMARY], first[1].vectors[Level.PRIMARY])
    assert first[0].present == {Level.PRIMARY, Level.FORM}


def test_real_minilm_levels_are_unit_vectors(embedded):
    for item in embedded:
        for vec in item.embeddings.vectors.values():
            assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3
        assert Level.SUBJECTIVE not in item.embeddings.vectors or item.concepts.levels.get(
            Level.SUBJECTIVE
        )


def test_disk_cache_is_reused_across_encoders_and_keyed_by_model(tmp_path):
    calls: list[int] = []

    def embed(texts):
        calls.append(len(texts))
        return hash_embed(texts)

    path = tmp_path / "cache.sqlite"
    sets = [ConceptSet("a", {Level.PRIMARY: ["sony", "camera"], Level.FORM: ["box"]})]
    first = LevelEncoder(embed=embed, disk_cache=path).encode(sets)
    again_enc = LevelEncoder(embed=embed, disk_cache=path)
    again = again_enc.encode(sets)
    assert calls == [2] and again_enc.disk_hits == 2
    assert np.array_equal(first[0].vectors[Level.FORM], again[0].vectors[Level.FORM])
    LevelEncoder(embed=embed, disk_cache=path, name="other-model").encode(sets)
    assert calls == [2, 2]


def test_injected_embedder_gets_no_disk_cache_by_default():
    assert LevelEncoder(embed=hash_embed).disk is None
