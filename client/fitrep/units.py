"""Units of measure: every spelling, in every language we have seen, to one canonical unit.

Part of the contract: both tiers read quantities this way.

A quantity is compared in its dimension's canonical unit (``0,5 l`` = ``500 ml`` = ``50 cl``;
``16 oz`` = ``453.6 g``), so two titles that write one size differently agree and two sizes
conflict whatever their units (``benchmarks/variants.py`` measures it). Numbers and units are
universal; only the surface forms are per language, and they live in one table here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    canonical: str  # the unit quantities of this dimension are written in
    factor: float  # value in ``canonical`` = value * factor


def _dim(canonical: str, spellings: dict[float, list[str]]) -> dict[str, Unit]:
    return {s: Unit(canonical, f) for f, names in spellings.items() for s in names}


# Surface form (case-folded, accents kept) -> canonical unit. Pack counts ("pack", "x", a CJK
# counter for bottles or cans) are a dimension of their own: "80 ct (pack of 6)" holds 80 wipes
# in each of 6 packs, and 6 packs vs 2 packs is another SKU while 80 ct agrees.
UNITS: dict[str, Unit] = {
    **_dim(
        "ml",
        {
            1.0: [
                "ml",
                "millilitre",
                "milliliter",
                "millilitres",
                "milliliters",
                "毫升",
                "мл",
                "μλ",
            ],
            10.0: ["cl", "centilitre", "centiliter"],
            100.0: ["dl", "decilitre", "deciliter"],
            1000.0: [
                "l",
                "ltr",
                "lt",
                "litre",
                "liter",
                "litres",
                "liters",
                "升",
                "公升",
                "ℓ",
                "л",
                "litr",
                "litru",
                "litry",
                "λ",
                "λτ",
                "λίτρο",
                "λίτρα",
            ],
            29.5735: ["floz"],  # "fl oz" is joined by the parser
            946.353: ["qt", "quart", "quarts"],
            3785.41: ["gal", "gallon", "gallons"],
        },
    ),
    **_dim(
        "g",
        {
            1.0: [
                "g",
                "gr",
                "gram",
                "grams",
                "gramm",
                "gramme",
                "grammes",
                "克",
                "г",
                "gramu",
                "gramů",
                "гр",
                "γρ",
            ],
            1000.0: [
                "kg",
                "kilo",
                "kilos",
                "kilogram",
                "kilograms",
                "kilogramm",
                "千克",
                "公斤",
                "кг",
                "κιλό",
                "κιλά",
            ],
            0.001: ["mg"],
            500.0: ["斤"],
            28.3495: ["oz", "ounce", "ounces", "onzas"],
            453.592: ["lb", "lbs", "pound", "pounds"],
        },
    ),
    **_dim(
        "mm",
        {
            1.0: ["mm", "мм"],
            10.0: ["cm", "厘米", "см"],
            1000.0: ["m", "meter", "meters", "metre", "metres", "米", "м"],
            25.4: [
                "in",
                "inch",
                "inches",
                "'",
                '"',
                "''",
                "″",
                "”",
                "“",
                "zoll",
                "palců",
                "pouces",
                "英寸",
                "寸",
                "дюйм",
                "дюйма",
                "дюймов",
            ],
            304.8: ["ft", "feet", "foot"],
        },
    ),
    **_dim(
        "gb",
        {
            1.0: ["gb", "gig", "gigabyte", "gigabytes", "go", "гб"],  # "go": French gigaoctet
            0.001: ["mb", "megabyte", "megabytes", "мб"],
            1e-6: ["kb", "кб"],
            1000.0: ["tb", "terabyte", "terabytes", "тб"],
        },
    ),
    **_dim("mah", {1.0: ["mah", "мач"]}),
    **_dim("w", {1.0: ["w", "watt", "watts", "вт"], 1000.0: ["kw", "квт"]}),
    **_dim("v", {1.0: ["v", "volt", "volts"]}),
    **_dim(
        "hz", {1.0: ["hz", "гц"], 1e3: ["khz", "кгц"], 1e6: ["mhz", "мгц"], 1e9: ["ghz", "ггц"]}
    ),
    **_dim("mp", {1.0: ["mp", "megapixel", "megapixels", "mpix", "мп"]}),
    **_dim(
        "count",
        {
            1.0: [
                "ct",
                "cnt",
                "count",
                "counts",
                "pcs",
                "pc",
                "piece",
                "pieces",
                "pièces",
                "stück",
                "stk",
                "st",
                "ks",
                "kusů",
                "kusy",
                "kus",
                "шт",
                "штук",
                "штуки",
                "τεμ",
                "τεμάχια",
                "sheets",
                "tabs",
                "tablets",
                "capsules",
                "caps",
                "softgels",
                "pods",
                "wipes",
                "个",
                "個",
                "片",
                "粒",
                "支",
                "只",
                "枚",
                "条",
                "張",
            ],
        },
    ),
    **_dim(
        "pack",
        {
            1.0: [
                "pack",
                "packs",
                "pk",
                "pkg",
                "er-pack",
                "erpack",
                "瓶",
                "罐",
                "包",
                "袋",
                "盒",
                "箱",
                "装",
                "入",
                "本",
                "听",
                "提",
                "set",
                "sets",
                "lot",
                "уп",
                "упаковка",
                "упаковки",
                "упаковок",
            ],
        },
    ),
    # "4x zoom": a factor, not a pack ("2 x 500 g" and "330 ml x 24" are read as packs).
    **_dim("x", {1.0: ["x", "×"]}),
    **_dim("cu", {1.0: ["cu"]}),
    **_dim("users", {1.0: ["user", "users", "usr"]}),
    **_dim("cpu", {1.0: ["processor", "processors", "cpu"]}),
    **_dim("pct", {1.0: ["%", "percent", "procent", "prozent"]}),
    **_dim("bps", {1.0: ["mbps", "gbps"]}),
    **_dim("dpi", {1.0: ["dpi"]}),
    **_dim("ppm", {1.0: ["ppm"]}),
    **_dim("h", {1.0: ["hour", "hours", "hr", "hrs", "h"]}),
    **_dim("min", {1.0: ["min", "mins", "minute", "minutes"]}),
    **_dim("ms", {1.0: ["ms"]}),
    **_dim("db", {1.0: ["db"]}),
    **_dim("btu", {1.0: ["btu"]}),
    **_dim("kcal", {1.0: ["kcal", "cal", "calories"]}),
    **_dim("rpm", {1.0: ["rpm"]}),
}

# CJK counters and units are written straight after the number with no space ("24瓶",
# "550毫升"); the parser looks these up at the start of a CJK run, longest first.
CJK_UNITS: tuple[str, ...] = tuple(
    sorted((u for u in UNITS if any("\u3000" <= ch for ch in u)), key=len, reverse=True)
)


def canonical(value: float, unit: str) -> tuple[float, str] | None:
    """``(value, canonical unit)`` of ``value unit``; None when ``unit`` is not a unit."""
    found = UNITS.get(unit)
    if found is None:
        return None
    return value * found.factor, found.canonical


def format_number(value: float) -> str:
    """Four significant digits, no trailing zeros: ``1500``, ``453.6``, ``0.5``."""
    text = f"{value:.4g}"
    if "e" in text:  # 4 significant digits of a large number: write it out
        text = f"{value:.0f}"
    return text


def to_float(value: str) -> float:
    """ "0,5" is a decimal comma; "1,000" (three digits after it) a thousands separator."""
    if "," in value:
        head, _, tail = value.partition(",")
        value = head + tail if len(tail) == 3 and "." not in tail else f"{head}.{tail}"
    return float(value)


def read_quantity(text: str) -> tuple[float, str] | None:
    """``(value, canonical unit)`` of a formatted quantity ("500 ml"; "1 l" written by an
    older version is converted); None when it is not one."""
    number, _, unit = text.partition(" ")
    try:
        value = to_float(number)
    except ValueError:
        return None
    return canonical(value, unit) or (value, unit)


# Two quantities of one dimension are the same size when they differ by at most this share
# ("16 oz" = 453.6 g is sold as "455 g"; "12 fl oz" = 354.9 ml as "355 ml").
TOLERANCE = 0.03


def same_size(a: float, b: float) -> bool:
    """Within ``TOLERANCE``, or one is the other cut to a whole number ("13.5 megapixel"
    is listed as "13 megapixels")."""
    if abs(a - b) <= TOLERANCE * max(abs(a), abs(b)):
        return True
    low, high = sorted((a, b))
    return low == int(low) and low >= 1 and int(high) == low
