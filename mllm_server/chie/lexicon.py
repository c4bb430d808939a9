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
# Packaging words a title may start with before the brand ("Capsules Nespresso ...",
# "Kapseln Lavazza ..."), in the languages catalogues arrive in (accents folded, as ``parse``
# does). English ones are left out: "Case Logic", "Box Office" start with a brand.
PACKAGING_WORDS = frozenset(
    """capsules
    boite boites bouteille bouteilles flacon flacons canette canettes sachet sachets
    paquet paquets brique etui coffret recharge cartouche gelules
    flasche flaschen dosen beutel packung packungen kapsel kapseln karton kartons nachfullpack
    lahev lahve plechovka plechovky krabice krabicka baleni sacek kapsle kelimek
    flaska flaskor burk burkar forpackning kapslar""".split()
)
FORM_WORDS = PACKAGING_WORDS | frozenset(
    """box boxed bottle bottles can cans carton cartons jar jars bag bags pouch tube tubes
    packet packets pack packs pk multipack case jewel sleeve blister tray tetra brick
    dvd dvds cd cds cdrom dvdrom rom disc discs disk download downloadable
    mac macintosh osx win windows pc linux ios android
    retail upgrade full student teacher edu education license licence licenses
    subscription edition version ver vol volume set kit bundle refill cartridge""".split()
)

# Plural nouns a count may follow ("bottles x6", "capsules x10", "Kapseln x 20"): "x<N>"
# after one is a pack size; elsewhere it may be a model ("Xperia X10") or an architecture.
COUNTED_WORDS = PACKAGING_WORDS | frozenset(
    """bottles cans jars bags pouches tubes packets packs pods tablets pieces pcs sachets
    cartons boxes rolls bars""".split()
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
) | frozenset(
    # Russian, Ukrainian and Greek shops' suffixes ("хит продаж", "в наличии", "δωρεάν
    # αποστολή"), as the parser folds them (a final sigma is "σ")
    """новинка новинки новый новая новое скидка скидки распродажа акция хит продаж
    бесплатная бесплатно доставка наличии подарок выгодно оригинал гарантия
    знижка акція безкоштовна безкоштовно наявності
    νέο νέα προσφορά προσφορέσ δωρεάν αποστολή έκπτωση""".split()
)

STOPWORDS = frozenset(
    """a an the and or of for with without to in on at by from as is are be this that these
    those it its your you our we all any each per into over under up down out about than
    via includes include including included featuring features feature plus w/ &""".split()
)

# Shorthand that catalogues of every kind use; expanded so both spellings meet.
ABBREVIATIONS: dict[str, str] = {
    "upgr": "upgrade",
    "win": "windows",
    "prof": "professional",
    "std": "standard",
    "lic": "license",
    "pkg": "package",
    "usr": "user",
    "eng": "english",
    "intl": "international",
    "ed": "edition",
    "gen": "generation",
    "qty": "quantity",
    "asst": "assorted",
    "blk": "black",
    "wht": "white",
    "slv": "silver",
}
