import numpy as np
from fitrep.domain import Level, LevelEmbeddings

from index_server.integration import LevelLayout, concatenate, integrate, level_cosines


def _unit(rng, d):
    v = rng.normal(size=d).astype(np.float32)
    return v / np.linalg.norm(v)


def test_inner_product_is_weighted_sum_of_level_cosines():
    rng = np.random.default_rng(0)
    layout = LevelLayout.from_dims({Level.PRIMARY: 8, Level.AUXILIARY: 8, Level.VISUAL: 4})
    weights = {Level.PRIMARY: 0.7, Level.AUXILIARY: 0.1, Level.VISUAL: 0.2}
    a = LevelEmbeddings("a", {lv: _unit(rng, d) for lv, d in layout.dims})
    b = LevelEmbeddings("b", {Level.PRIMARY: _unit(rng, 8), Level.VISUAL: _unit(rng, 4)})
    full = concatenate([a, b], layout)
    x = integrate(full, layout, weights)
    expected = sum(
        weights[lv] * float(a.vectors[lv] @ b.vectors[lv]) for lv in (Level.PRIMARY, Level.VISUAL)
    )
    assert abs(float(x[0] @ x[1]) - expected) < 1e-5
    cos, present = level_cosines(full[0], full[1:], layout)
    assert present[0].tolist() == [True, False, True]
    assert cos[0, 1] == 0.0
