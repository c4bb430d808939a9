"""Template catalogues of a Russian shop: ``<brand> <product> <size> <colour>`` in Cyrillic.

The shape of ``templates`` (every non-duplicate differs from its neighbours in one slot: brand,
size or colour), written as Russian marketplaces write it: product words and colours in
Russian, sizes in Cyrillic units ("500 мл", "128 ГБ") or Latin ones ("500 ml"), and the brand
in Latin letters or spelled in Cyrillic ones ("Kavero" / "Каверо"). A re-listing changes the
word order, the casing, the script of the brand or of the unit, the spelling of a size
("1 л" for "1000 мл"), or adds a marketing suffix. Brands are made-up words drawn from the
seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fitrep.synthetic import SyntheticCatalogue, distinct_skus, relisted_catalogue, rewrite

RELISTED_SHARE = 0.3
# product words, their gender (the colour agrees with it: m, f, n, plural), (number, Latin
# unit) sizes; none: sold by colour only
_PRODUCTS: tuple[tuple[str, str, tuple[tuple[float, str], ...]], ...] = (
    ("оливковое масло", "n", ((250, "ml"), (500, "ml"), (1000, "ml"))),
    ("кофе в зернах", "m", ((250, "g"), (500, "g"), (1000, "g"))),
    ("шампунь", "m", ((250, "ml"), (400, "ml"))),
    ("смартфон", "m", ((64, "GB"), (128, "GB"), (256, "GB"))),
    ("флешка", "f", ((32, "GB"), (64, "GB"), (128, "GB"))),
    ("наушники", "pl", ()),
    ("рюкзак", "m", ((20, "l"), (30, "l"))),
    ("электрочайник", "m", ((1500, "ml"), (1700, "ml"))),
)
# masculine ending -> the ending of each gender ("синий" -> "синяя", "синее", "синие")
_ENDINGS = {
    "ый": {"f": "ая", "n": "ое", "pl": "ые"},
    "ий": {"f": "яя", "n": "ее", "pl": "ие"},
    "ой": {"f": "ая", "n": "ое", "pl": "ые"},
}
_COLOURS = (
    "черный белый красный синий зеленый серый розовый золотой бежевый бордовый бирюзовый "
    "фиолетовый оранжевый коричневый"
).split()
_CYRILLIC_UNIT = {"ml": "мл", "g": "г", "GB": "ГБ", "l": "л", "kg": "кг"}
_SUFFIXES = ("новинка", "бесплатная доставка", "хит продаж", "скидка", "в наличии")
_SYLLABLES = "ka vu ro mi la to ni sa du ru po li ma no te vi".split()
# the syllables' Latin letters as a Russian shop spells them
_TO_CYRILLIC = str.maketrans("kaverominltsdup", "кавероминлтсдуп")


@dataclass(frozen=True)
class Sku:
    brand: str
    product: int
    size: int  # index into the product's sizes (-1: none)
    colour: str


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()


def agreed(colour: str, gender: str) -> str:
    """The colour adjective in the product's gender (``colour`` is masculine)."""
    head, ending = colour[:-2], colour[-2:]
    return colour if gender == "m" else head + _ENDINGS[ending][gender]


def _size(sku: Sku, cyrillic: bool, spelling: int) -> str:
    sizes = _PRODUCTS[sku.product][2]
    if sku.size < 0 or not sizes:
        return ""
    number, unit = sizes[sku.size]
    if spelling % 2 and unit in ("ml", "g") and number >= 1000:
        number, unit = number / 1000, "l" if unit == "ml" else "kg"
    written = _CYRILLIC_UNIT[unit] if cyrillic else unit
    return f"{number:g} {written}"


def render(sku: Sku, order: int = 0, cyrillic_brand: bool = False, cyrillic_unit: bool = True,
           spelling: int = 0) -> str:  # fmt: skip
    """A title of ``sku``: ``order`` picks a word order (0 = the template's own)."""
    brand = sku.brand.lower().translate(_TO_CYRILLIC).capitalize() if cyrillic_brand else sku.brand
    product, gender, _ = _PRODUCTS[sku.product]
    colour = agreed(sku.colour, gender)
    size = _size(sku, cyrillic_unit, spelling)
    layouts = (
        (product.capitalize(), brand, size, colour),
        (brand, product, size, colour),
        (product.capitalize(), brand, colour, size),
        (brand, product, colour, size),
    )
    return " ".join(part for part in layouts[order % len(layouts)] if part)


def reword(title: str, rng: random.Random) -> str:
    """The same title in another casing, with a marketing suffix, or both."""
    return rewrite(title, rng, _SUFFIXES, title_case=False)


def random_sku(rng: random.Random) -> Sku:
    """One SKU of any product line (for property tests)."""
    product = rng.randrange(len(_PRODUCTS))
    sizes = _PRODUCTS[product][2]
    return Sku(_brand(rng), product, rng.randrange(len(sizes)) if sizes else -1,
               rng.choice(_COLOURS))  # fmt: skip


def _line(rng: random.Random, brands: list[str], product: int) -> list[Sku]:
    """A product line's grid: a few brands x sizes x colours, so neighbours differ in one
    slot."""
    sizes = list(range(len(_PRODUCTS[product][2]))) or [-1]
    colours = rng.sample(_COLOURS, rng.randint(2, 4))
    return [
        Sku(b, product, s, c) for b in rng.sample(brands, rng.randint(2, 3)) for s in sizes
        for c in colours
    ]  # fmt: skip


def generate(n_items: int, seed: int, relisted: float = RELISTED_SHARE) -> SyntheticCatalogue:
    """``n_items`` rows (``id``, ``title``): ``1 - relisted`` of them distinct SKUs written
    the shop's way (Cyrillic units, brand in Latin letters), the rest re-listings."""
    rng = random.Random(seed)
    n_skus = max(1, round(n_items * (1 - relisted)))
    brands = sorted({_brand(rng) for _ in range(max(8, n_skus // 40))})
    skus = distinct_skus(n_skus, lambda: _line(rng, brands, rng.randrange(len(_PRODUCTS))))

    def relist(sku: Sku) -> str:
        order, brand, unit = rng.randrange(4), rng.random() < 0.5, rng.random() < 0.5
        return reword(render(sku, order, brand, unit, rng.randrange(2)), rng)

    return relisted_catalogue(
        "cyrillic",
        "r",
        seed,
        n_items,
        skus,
        render,
        relist,
        lambda s: f"{s.brand}/{s.product}",
        rng,
    )
