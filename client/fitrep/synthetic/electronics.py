"""Electronics offers in four languages: model codes, capacities, colours, listing columns.

Each seed draws model lines (an invented brand, a device type and a model code such as
``QX-450``), one to three variants of each (another capacity, colour or the next generation:
``QX-450`` -> ``QX-460``) and one to four offers of every variant, in English, German, French
or Spanish. Offers write the code with or without its hyphen (``QX-450`` / ``QX450``), put the
words in another order and add marketing words. Every offer has ``seller``, ``price`` (the
variant's price give or take 10 %), ``rating`` and ``stock`` columns.
"""

from __future__ import annotations

import random

from fitrep.synthetic import SyntheticCatalogue

LANGS = ("en", "de", "fr", "es")
_TYPES: list[tuple[tuple[str, ...], str, list[tuple[str, ...]], float]] = [
    (("SSD", "SSD Festplatte", "disque SSD", "disco SSD"), "capacity",
     [("512 GB",), ("1 TB",), ("2 TB",)], 60.0),
    (("wireless headphones", "kabellose Kopfhörer", "casque sans fil", "auriculares inalámbricos"),
     "colour", [("black", "schwarz", "noir", "negro"), ("silver", "silber", "argent", "plata")],
     120.0),
    (("smartphone", "Smartphone", "smartphone", "teléfono móvil"), "capacity",
     [("128 GB",), ("256 GB",)], 400.0),
    (("monitor", "Monitor", "écran", "monitor"), "size", [('27"',), ('32"',)], 250.0),
    (("wifi router", "WLAN Router", "routeur wifi", "router wifi"), "generation", [("",)], 90.0),
    (("smartwatch", "Smartwatch", "montre connectée", "reloj inteligente"), "size",
     [("41 mm",), ("45 mm",)], 200.0),
    (("power bank", "Powerbank", "batterie externe", "batería externa"), "capacity",
     [("10000 mAh",), ("20000 mAh",)], 30.0),
]  # fmt: skip
_SUFFIX = {
    "en": ["new", "original", "fast delivery"],
    "de": ["neu", "OVP", "schneller Versand"],
    "fr": ["neuf", "original", "livraison rapide"],
    "es": ["nuevo", "original", "envío rápido"],
}
_SELLERS = ["TechDepot", "ElektroWelt", "Boulanger-Pro", "MediaCenter ES", "GadgetHub", "Saturnia"]
_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
_SYL = "tek vo lar xi on mo ra zen qu ix el sy no".split()


def _code(rng: random.Random, taken: set[str]) -> tuple[str, int]:
    while True:
        prefix = "".join(rng.choice(_LETTERS) for _ in range(rng.choice((2, 3))))
        number = rng.randrange(100, 900, 10)
        if prefix not in taken:
            taken.add(prefix)
            return prefix, number


def _written(prefix: str, number: int, rng: random.Random) -> str:
    return rng.choice((f"{prefix}-{number}", f"{prefix}{number}", f"{prefix} {number}"))


def _title(rng: random.Random, brand: str, noun: str, code: str, value: str, lang: str) -> str:
    parts = [brand, noun, code, value] if rng.random() < 0.5 else [brand, code, noun, value]
    title = " ".join(p for p in parts if p)
    if rng.random() < 0.3:
        title = f"{title} {rng.choice(_SUFFIX[lang])}"
    return title


def generate(seed: int, lines: int = 14, listing_columns: bool = True) -> SyntheticCatalogue:
    """About ``lines`` x 2 variants x 2.5 offers rows; ``listing_columns=False`` leaves seller,
    price, rating and stock out (the same rows otherwise)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    sku: dict[str, str] = {}
    family: dict[str, str] = {}
    prefixes: set[str] = set()
    for p in range(lines):
        nouns, axis, values, base = rng.choice(_TYPES)
        brand = "".join(rng.choice(_SYL) for _ in range(2)).capitalize()
        prefix, number = _code(rng, prefixes)
        variants: list[tuple[int, tuple[str, ...]]]
        if axis == "generation":
            variants = [(number + 10 * g, ("",)) for g in range(rng.randint(1, 3))]
        else:
            chosen = rng.sample(values, rng.randint(1, min(3, len(values))))
            variants = [(number, value) for value in chosen]
        for v, (model, value) in enumerate(variants):
            price = base * (1 + 0.5 * v) * rng.uniform(0.8, 1.3)
            for n in range(rng.choice((1, 2, 2, 3, 3, 4))):
                lang = rng.choice(LANGS)
                shown = value[LANGS.index(lang)] if len(value) > 1 else value[0]
                title = _title(
                    rng, brand, nouns[LANGS.index(lang)], _written(prefix, model, rng), shown, lang
                )
                item = f"e{seed}-{p}-{v}-{n}"
                row: dict[str, object] = {"id": item, "title": title}
                listing = {
                    "seller": rng.choice(_SELLERS),
                    "price": f"{price * rng.uniform(0.9, 1.1):.2f}",
                    "rating": f"{rng.uniform(2.5, 5.0):.1f}",
                    "stock": str(rng.choice((0, 1, 3, 12, 40, 250))),
                }
                if listing_columns:
                    row.update(listing)
                rows.append(row)
                sku[item] = f"{p}-{v}"
                family[item] = str(p)
    return SyntheticCatalogue.shuffled(f"electronics-{seed}", seed, rows, sku, family, rng)
