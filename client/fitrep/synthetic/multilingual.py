"""A small multilingual marketplace: re-listings in six languages, variants, listing columns.

Each seed draws about a dozen products (an invented brand and a product type), one to three
variants of each (another size, volume or colour: different items of one family) and one to
four listings of every variant. A re-listing is either another seller's copy of the title or
the item written in another language, word order or with a marketing suffix. Every listing
carries the columns a marketplace adds — price (the variant's price give or take 8 %), rating,
review count and seller — under names in one language per catalogue, so a catalogue can be
read with and without them (``listing_columns``).

``types`` swaps the product vocabulary (a benchmark's held-out words), and ``brand_types`` lets
a brand sell several product types of one variant axis: "<brand> shampoo 250 ml" beside
"<brand> conditioner 250 ml", two items that agree on brand and size and differ only in the
(possibly translated) product word — what a translation must be told from.
"""

from __future__ import annotations

import random

from fitrep.synthetic import SyntheticCatalogue

LANGS = ("en", "de", "fr", "es", "cs", "zh")
# noun per language, variant axis, the axis's values (each a tuple of one value per language
# or one value for all), base price in euro
ProductType = tuple[tuple[str, ...], str, list[tuple[str, ...]], float]
_TYPES: list[ProductType] = [
    (("olive oil", "Olivenöl", "huile d'olive", "aceite de oliva", "olivový olej", "橄榄油"),
     "volume", [("500 ml",), ("1 l",), ("750 ml",)], 9.0),
    (("coffee beans", "Kaffeebohnen", "café en grains", "café en grano", "zrnková káva", "咖啡豆"),
     "weight", [("250 g",), ("1 kg",), ("500 g",)], 12.0),
    (("shampoo", "Shampoo", "shampooing", "champú", "šampon", "洗发水"),
     "volume", [("250 ml",), ("500 ml",)], 5.0),
    (("t-shirt", "T-Shirt", "t-shirt", "camiseta", "tričko", "T恤"),
     "colour", [("black", "schwarz", "noir", "negro", "černá", "黑色"),
                ("white", "weiß", "blanc", "blanco", "bílá", "白色"),
                ("blue", "blau", "bleu", "azul", "modrá", "蓝色")], 15.0),
    (("running shoes", "Laufschuhe", "chaussures de course", "zapatillas running", "běžecké boty",
      "跑鞋"), "size", [("EU 42",), ("EU 44",), ("EU 40",)], 70.0),
    (("bluetooth headphones", "Bluetooth Kopfhörer", "casque bluetooth", "auriculares bluetooth",
      "bluetooth sluchátka", "蓝牙耳机"),
     "colour", [("black", "schwarz", "noir", "negro", "černá", "黑色"),
                ("red", "rot", "rouge", "rojo", "červená", "红色")], 60.0),
    (("USB-C cable", "USB-C Kabel", "câble USB-C", "cable USB-C", "kabel USB-C", "USB-C数据线"),
     "length", [("1 m",), ("2 m",)], 8.0),
    (("green tea", "grüner Tee", "thé vert", "té verde", "zelený čaj", "绿茶"),
     "pack", [("20 bags",), ("50 bags",)], 4.0),
]  # fmt: skip
_SUFFIX = {
    "en": ["new", "free shipping", "best price"],
    "de": ["neu", "versandkostenfrei", "Angebot"],
    "fr": ["nouveau", "livraison gratuite", "promo"],
    "es": ["nuevo", "envío gratis", "oferta"],
    "cs": ["novinka", "doprava zdarma", "akce"],
    "zh": ["新品", "包邮", "特价"],
}
# the listing columns' names, in one language per catalogue
COLUMN_NAMES = {
    "en": ("price", "rating", "reviews", "seller"),
    "de": ("Preis", "Bewertung", "Rezensionen", "Verkäufer"),
    "fr": ("prix", "note", "avis", "vendeur"),
    "es": ("precio", "valoración", "reseñas", "vendedor"),
    "cs": ("cena", "hodnocení", "recenze", "prodejce"),
    "zh": ("价格", "评分", "评论", "卖家"),
}
_SELLERS = ["alfa-shop", "MegaMarkt", "Boutique Lune", "TiendaSol", "Obchod Praha", "优品店",
            "QuickBuy", "Nordhandel"]  # fmt: skip
_SYL = "ka lo ri ve na to mi sa de ro lu pe ti va no ma".split()


def _brand(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(_SYL) for _ in range(rng.choice((2, 3)))).capitalize()
        if name not in taken:
            taken.add(name)
            return name


def _value(values: tuple[str, ...], lang: str) -> str:
    return values[LANGS.index(lang)] if len(values) > 1 else values[0]


def _title(rng: random.Random, brand: str, noun: str, value: str, lang: str) -> str:
    words = [brand, noun, value] if rng.random() < 0.6 else [noun, brand, value]
    title = " ".join(words)
    if rng.random() < 0.25:
        title = f"{title} - {rng.choice(_SUFFIX[lang])}"
    if rng.random() < 0.15:
        title = title.upper() if lang != "zh" else title
    return title


def generate(
    seed: int,
    products: int = 12,
    listing_columns: bool = True,
    types: list[ProductType] | None = None,
    brand_types: int = 1,
) -> SyntheticCatalogue:
    """About ``products`` x 2 variants x 2.5 listings rows; ``listing_columns=False`` leaves
    price, rating, reviews and seller out (the same rows otherwise: same seed, same draws).
    ``types``: the product vocabulary (default the module's); ``brand_types``: product types
    per brand, of one variant axis (the first type's); with the defaults the rows are those of
    a single type per brand."""
    vocabulary = types or _TYPES
    rng = random.Random(seed)
    names = COLUMN_NAMES[rng.choice(LANGS)]
    rows: list[dict[str, object]] = []
    sku: dict[str, str] = {}
    family: dict[str, str] = {}
    language: dict[str, str] = {}
    brands: set[str] = set()
    for p in range(products):
        first_type = rng.choice(vocabulary)
        brand = _brand(rng, brands)
        line = [first_type]
        if brand_types > 1:
            same_axis = [t for t in vocabulary if t[1] == first_type[1] and t is not first_type]
            line += rng.sample(same_axis, min(brand_types - 1, len(same_axis)))
        for t, (nouns, _axis, values, base) in enumerate(line):
            product = f"{p}" if t == 0 else f"{p}.{t}"
            for v, value in enumerate(rng.sample(values, rng.randint(1, min(3, len(values))))):
                price = base * (1 + 0.6 * v) * rng.uniform(0.8, 1.3)
                first: tuple[str, str] | None = None
                for n in range(rng.choice((1, 2, 2, 3, 3, 4))):
                    lang = rng.choice(LANGS)
                    noun = nouns[LANGS.index(lang)]
                    if first is not None and rng.random() < 0.35:
                        title, lang = first  # another seller copies the title
                    else:
                        title = _title(rng, brand, noun, _value(value, lang), lang)
                    first = first or (title, lang)
                    item = f"m{seed}-{product}-{v}-{n}"
                    row: dict[str, object] = {"id": item, "title": title}
                    listing = {
                        names[0]: f"{price * rng.uniform(0.92, 1.08):.2f}",
                        names[1]: f"{rng.uniform(3.0, 5.0):.1f}",
                        names[2]: str(rng.randint(0, 900)),
                        names[3]: rng.choice(_SELLERS),
                    }
                    if listing_columns:
                        row.update(listing)
                    rows.append(row)
                    sku[item] = f"{product}-{v}"
                    family[item] = product
                    language[item] = lang
    return SyntheticCatalogue.shuffled(
        f"multilingual-{seed}", seed, rows, sku, family, rng, language
    )
