"""Template catalogues: ``<brand> <product> <size> <colour>`` items, and re-listings of them.

The shape the paper calls local structural collapse: every item shares its template with
hundreds of others, and an item differs from its nearest non-duplicates in one slot only
(another brand, colour, size, pack count or generation). A fraction of the items are
re-listings of another item, written with another word order, casing, a marketing suffix or
another spelling of one slot ("1 l" for "1000 ml", "pack of 6" for "6 x"): those are the
duplicates. Brands are made-up words drawn from the seed, so no word list knows them.

``generate(n_items, seed)`` gives the catalogue; ``render``/``reword`` and ``Sku`` are the
pieces the property tests use to rewrite one record or change one slot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from fitrep.synthetic import SyntheticCatalogue, distinct_skus, relisted_catalogue, rewrite

RELISTED_SHARE = 0.3
# (product words, sizes as (number, unit), whether it comes in packs, whether in generations)
_PRODUCTS: tuple[tuple[str, tuple[tuple[float, str], ...], bool, bool], ...] = (
    ("olive oil", ((250, "ml"), (500, "ml"), (1000, "ml")), True, False),
    ("sparkling water", ((330, "ml"), (500, "ml"), (1.5, "l")), True, False),
    ("coffee beans", ((250, "g"), (500, "g"), (1, "kg")), True, False),
    ("dish soap", ((450, "ml"), (750, "ml"), (1, "l")), True, False),
    ("running shoes", ((40, "EU"), (42, "EU"), (44, "EU")), False, False),
    ("cotton t-shirt", ((0, "S"), (0, "M"), (0, "L"), (0, "XL")), True, False),
    ("water bottle", ((500, "ml"), (750, "ml"), (1, "l")), False, False),
    ("wireless earbuds", (), False, True),
    ("smart speaker", (), False, True),
    ("backpack", ((20, "l"), (30, "l")), False, False),
    ("yoga mat", ((4, "mm"), (6, "mm")), False, False),
    ("phone case for iPhone", ((12, "iphone"), (13, "iphone"), (14, "iphone")), False, False),
)
_COLOURS = (
    "black white red blue green yellow grey brown pink purple orange silver gold beige navy "
    "turquoise ivory teal maroon burgundy charcoal khaki lavender coral"
).split()
_SUFFIXES = (
    "new",
    "free shipping",
    "best seller",
    "top rated",
    "sale",
    "limited offer",
    "fast delivery",
    "official store",
)
_SYLLABLES = "bra ken dor mi sa lo vek tar un zo ri pel gan cus fen ho ly mar tis vo".split()
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


@dataclass(frozen=True)
class Sku:
    """One true item: each field is a slot of the template."""

    brand: str
    product: int  # index into the product table
    size: int  # index into the product's sizes (-1: none)
    colour: str
    pack: int = 1  # items in the pack (1: sold singly)
    generation: int = 0  # 0: none


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()


def _size(sku: Sku, spelling: int) -> str:
    sizes = _PRODUCTS[sku.product][1]
    if sku.size < 0 or not sizes:
        return ""
    number, unit = sizes[sku.size]
    if unit == "iphone":
        return ""  # the model the case fits is part of the product words
    if unit == "EU":
        return (f"EU {number:g}", f"size {number:g} EU")[spelling % 2]
    if number == 0:
        return f"size {unit}"  # a bare letter is no size anywhere (an "M" is also metres)
    if spelling % 2 and unit in ("ml", "g") and number >= 1000:
        return f"{number / 1000:g} {'l' if unit == 'ml' else 'kg'}"  # "1 l" for "1000 ml"
    if spelling % 2 and unit in ("l", "kg") and number < 10:
        return f"{number * 1000:g} {'ml' if unit == 'l' else 'g'}"
    return f"{number:g} {unit}"


def _product(sku: Sku) -> str:
    words, sizes, _, _ = _PRODUCTS[sku.product]
    if sizes and sizes[0][1] == "iphone":
        return f"{words} {sizes[sku.size][0]:g}"
    return words


def _generation(sku: Sku, spelling: int) -> str:
    if not sku.generation:
        return ""
    n = sku.generation
    return (f"Gen {n}", f"({_ORDINALS.get(n, f'{n}th')} generation)")[spelling % 2]


def _pack(sku: Sku, size: str, spelling: int) -> str:
    if sku.pack == 1:
        return size
    if not size:
        return f"pack of {sku.pack}"
    if not size[0].isdigit():  # "size M": counted in words
        return (f"{size} (pack of {sku.pack})", f"pack of {sku.pack}, {size}")[spelling % 2]
    return (f"{sku.pack} x {size}", f"{size} (pack of {sku.pack})")[spelling % 2]


def render(sku: Sku, order: int = 0, spelling: int = 0) -> str:
    """A title of ``sku``: ``order`` picks a word order (0 = the template's own), ``spelling``
    another spelling of the same size, pack or generation."""
    brand, product = sku.brand, _product(sku)
    amount = _pack(sku, _size(sku, spelling), spelling)
    gen, colour = _generation(sku, spelling), sku.colour
    layouts = (
        (brand, product, gen, amount, colour),
        (brand, colour, product, gen, amount),
        (brand, product, gen, colour, amount),
        (product, gen, amount, colour, "by", brand),
        (brand, product, gen, "-", colour, "-" if amount else "", amount),
    )
    return " ".join(part for part in layouts[order % len(layouts)] if part)


def reword(title: str, rng: random.Random) -> str:
    """The same title in another casing, with a marketing suffix, or both."""
    return rewrite(title, rng, _SUFFIXES, title_case=True)


def _family_skus(rng: random.Random, brands: list[str], product: int) -> list[Sku]:
    """A product line's grid: a few brands x sizes x colours (x packs x generations), so
    neighbours differ in one slot."""
    _, sizes, packs, generations = _PRODUCTS[product]
    colours = rng.sample(_COLOURS, rng.randint(2, 4))
    size_ids = list(range(len(sizes))) or [-1]
    pack_counts = [1, rng.choice((4, 6, 12))] if packs else [1]
    gens = [1, 2, 3][: rng.randint(2, 3)] if generations else [0]
    line_brands = rng.sample(brands, rng.randint(2, 3))
    return [
        Sku(b, product, s, c, p, g)
        for b in line_brands
        for s in size_ids
        for c in colours
        for p in pack_counts
        for g in gens
    ]


def generate(n_items: int, seed: int, relisted: float = RELISTED_SHARE) -> SyntheticCatalogue:
    """``n_items`` rows (``id``, ``title``): ``1 - relisted`` of them distinct SKUs, the rest
    re-listings of some of those (another order, casing, suffix or spelling)."""
    rng = random.Random(seed)
    n_skus = max(1, round(n_items * (1 - relisted)))
    brands = sorted({_brand(rng) for _ in range(max(8, n_skus // 40))})
    skus = distinct_skus(n_skus, lambda: _family_skus(rng, brands, rng.randrange(len(_PRODUCTS))))
    return relisted_catalogue(
        "templates",
        "t",
        seed,
        n_items,
        skus,
        render,
        lambda s: reword(render(s, rng.randrange(5), rng.randrange(2)), rng),
        lambda s: f"{s.brand}/{s.product}",
        rng,
    )


def change_slot(sku: Sku, slot: str, rng: random.Random) -> Sku:
    """``sku`` with one identity slot set to another value (the split the tests expect)."""
    _, sizes, packs, _ = _PRODUCTS[sku.product]
    if slot == "brand":
        return replace(sku, brand=_brand(rng) + "x")
    if slot == "colour":
        return replace(sku, colour=rng.choice([c for c in _COLOURS if c != sku.colour]))
    if slot == "size" and len(sizes) > 1:
        return replace(sku, size=rng.choice([s for s in range(len(sizes)) if s != sku.size]))
    if slot == "pack" and packs:
        return replace(sku, pack=1 if sku.pack > 1 else rng.choice((4, 6, 12)))
    if slot == "generation" and sku.generation:
        return replace(sku, generation=sku.generation % 3 + 1)
    raise ValueError(f"{slot} cannot change on this item")


def random_sku(rng: random.Random) -> Sku:
    """One SKU drawn as ``generate`` draws them."""
    product = rng.randrange(len(_PRODUCTS))
    return rng.choice(_family_skus(rng, sorted({_brand(rng) for _ in range(8)}), product))
