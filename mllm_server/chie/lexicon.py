"""Word classes the rules backend uses to place tokens in levels.

Kept small and generic (any product domain): they only say which *role* a word plays
(colour, packaging, promotion, opinion, format). Which concepts are primary is decided
per item by the parser, not by these lists.
"""

from __future__ import annotations

COLOURS = frozenset(
    """black white red blue green yellow cyan magenta pink purple violet orange brown grey gray
    silver gold golden beige ivory navy teal turquoise maroon burgundy charcoal bronze copper
    champagne graphite titanium cream khaki olive lime rose coral transparent clear""".split()
)

# How the item is presented or delivered: packaging, medium, platform, licence form.
FORM_WORDS = frozenset(
    """box boxed bottle bottles can cans carton cartons jar jars bag bags pouch tube tubes
    packet packets pack packs pk multipack case jewel sleeve blister tray tetra brick
    dvd dvds cd cds cdrom dvdrom rom disc discs disk download downloadable
    mac macintosh osx win windows pc linux ios android xp vista
    oem retail upgrade full academic student teacher edu education license licence licenses
    subscription edition version ver vol volume set kit bundle refill cartridge""".split()
)

# Words that sell rather than describe.
SUBJECTIVE_WORDS = frozenset(
    """best better great perfect premium ultimate amazing awesome excellent superior superb
    elegant stylish beautiful gorgeous luxurious luxury classic innovative revolutionary
    powerful easy easiest simple intuitive fun favorite favourite popular trusted reliable
    quality fresh delicious tasty natural healthy smooth creamy rich crisp ideal essential
    exclusive unique incredible fantastic sleek modern advanced professional-grade""".split()
)

# Promotion, shop and boilerplate words: never evidence that two items are the same thing.
PROMO_WORDS = frozenset(
    """new sale free shipping ship ships offer offers deal deals discount discounted save
    savings off price prices cheap cheapest buy now today only limited special bonus gift
    hot brand genuine original authentic official store shop shopping online warranty
    guarantee guaranteed order orders call visit www com click available instock stock
    bestseller bestselling seller item items product products""".split()
)

STOPWORDS = frozenset(
    """a an the and or of for with without to in on at by from as is are be this that these
    those it its your you our we all any each per into over under up down out about than
    via includes include including included featuring features feature plus w/ &""".split()
)

# Units of measure, normalised: surface form -> canonical unit.
UNITS: dict[str, str] = {
    **dict.fromkeys(["gb", "gig", "gigabyte", "gigabytes"], "gb"),
    **dict.fromkeys(["mb", "megabyte", "megabytes"], "mb"),
    **dict.fromkeys(["tb", "terabyte", "terabytes"], "tb"),
    **dict.fromkeys(["kb"], "kb"),
    **dict.fromkeys(["mp", "megapixel", "megapixels", "mpix"], "mp"),
    **dict.fromkeys(["in", "inch", "inches", "'", '"', "''"], "in"),
    **dict.fromkeys(["ft", "feet", "foot"], "ft"),
    **dict.fromkeys(["cu"], "cu"),
    **dict.fromkeys(["cm"], "cm"),
    **dict.fromkeys(["mm"], "mm"),
    **dict.fromkeys(["m", "meter", "meters", "metre", "metres"], "m"),
    **dict.fromkeys(["ml", "millilitre", "milliliter"], "ml"),
    **dict.fromkeys(["cl"], "cl"),
    **dict.fromkeys(["dl"], "dl"),
    **dict.fromkeys(["l", "ltr", "litre", "liter", "litres", "liters"], "l"),
    **dict.fromkeys(["kg", "kilo", "kilogram", "kilograms"], "kg"),
    **dict.fromkeys(["g", "gr", "gram", "grams"], "g"),
    **dict.fromkeys(["mg"], "mg"),
    **dict.fromkeys(["oz", "ounce", "ounces"], "oz"),
    **dict.fromkeys(["fl"], "floz"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"),
    **dict.fromkeys(["w", "watt", "watts"], "w"),
    **dict.fromkeys(["kw"], "kw"),
    **dict.fromkeys(["v", "volt", "volts"], "v"),
    **dict.fromkeys(["mah"], "mah"),
    **dict.fromkeys(["hz"], "hz"),
    **dict.fromkeys(["khz"], "khz"),
    **dict.fromkeys(["mhz"], "mhz"),
    **dict.fromkeys(["ghz"], "ghz"),
    **dict.fromkeys(["rpm"], "rpm"),
    **dict.fromkeys(["x"], "x"),
    **dict.fromkeys(["pk", "pack", "pcs", "pc", "pieces", "ct", "count"], "count"),
    **dict.fromkeys(["user", "users"], "users"),
    **dict.fromkeys(["processor", "processors", "cpu"], "cpu"),
    **dict.fromkeys(["%", "percent"], "pct"),
    **dict.fromkeys(["mbps", "gbps"], "bps"),
    **dict.fromkeys(["dpi"], "dpi"),
    **dict.fromkeys(["ppm"], "ppm"),
    **dict.fromkeys(["hour", "hours", "hr", "hrs", "h"], "h"),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], "min"),
    **dict.fromkeys(["ms"], "ms"),
    **dict.fromkeys(["db"], "db"),
    **dict.fromkeys(["btu"], "btu"),
    **dict.fromkeys(["kcal", "cal", "calories"], "kcal"),
}


# Shorthand that catalogues of every kind use; expanded so both spellings meet.
ABBREVIATIONS: dict[str, str] = {
    "upg": "upgrade",
    "upgr": "upgrade",
    "win": "windows",
    "prof": "professional",
    "std": "standard",
    "acad": "academic",
    "dlx": "deluxe",
    "lic": "license",
    "pkg": "package",
    "usr": "user",
    "eng": "english",
    "intl": "international",
    "ed": "edition",
    "qty": "quantity",
    "asst": "assorted",
    "blk": "black",
    "wht": "white",
    "slv": "silver",
}
