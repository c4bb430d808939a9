"""Word lists of the variant attributes, per language, each mapped to one English key.

Only the attributes that are words need lists: colours, flavours and scents, model tiers,
dietary varieties. Quantities, sizes and generations are numbers (``units.py``,
``variants.py``). Entries are written as the parser normalises text (NFKC, case-folded,
accents of Latin letters folded: "weiß" -> "weiss", "černá" -> "cerna"); CJK entries are
matched as substrings of a CJK run. Flavour entries are *stems*: a word that starts with one
names the flavour, so German compounds ("erdbeerjoghurt") and Czech adjectives ("jahodový")
are read too. Keys are what explanations print and what two items compare.
"""

from __future__ import annotations


def _table(rows: dict[str, str]) -> dict[str, str]:
    """``{"key": "spelling spelling ..."}`` -> ``{spelling: key}``."""
    return {s: key for key, spellings in rows.items() for s in spellings.split()}


# Whole words. Short folded forms that are common words elsewhere ("rod", "bla", "vit") are
# left out: a colour that is missed costs a merge decision nothing; a false one vetoes it.
COLOUR_WORDS: dict[str, str] = _table(
    {
        "black": "black schwarz schwarze schwarzer noir noire cerna cerny cerne svart nero "
        "negro negra zwart nera neri nere czarny czarna czarne zwarte preto preta",
        "white": "white weiss weisse weisser blanc blanche bila bily bile bianco blanco wit bianca "
        "blanca branco branca bialy biala biale witte",
        "red": "red rot rote roter rouge cervena cerveny cervene rosso rojo roja rossa czerwony "
        "czerwona czerwone rood rode vermelho vermelha",
        "blue": "blue blau blaue blauer bleu bleue modra modry modre blu azul niebieski niebieska "
        "niebieskie blauw blauwe",
        "green": "green grun grune gruner vert verte zelena zeleny zelene gron verde zielony "
        "zielona zielone groen groene",
        "yellow": "yellow gelb gelbe jaune zluta zluty zlute giallo gialla amarillo zolty zolta "
        "zolte geel gele amarelo amarela",
        "grey": "grey gray grau graue gris grise seda sedy sede grigio grigia szary szara szare "
        "grijs grijze cinza",
        "brown": "brown braun braune marron hneda hnedy hnede brun marrone brazowy brazowa bruin",
        "pink": "pink rosa ruzova ruzovy rozowy rozowa",
        "purple": "purple lila violett violet fialova fialovy viola morado fioletowy fioletowa "
        "paars",
        "orange": "orange oranzova oranzovy arancione naranja",
        "silver": "silver silber argent argente stribrna stribrny argento plata srebrny srebrna "
        "zilver",
        "gold": "gold golden dore doree zlata zlaty oro goud dourado",
        "beige": "beige bezova",
        "navy": "navy",
        "turquoise": "turquoise turkis tyrkysova",
        "cyan": "cyan",
        "magenta": "magenta",
        "ivory": "ivory",
        "teal": "teal",
        "maroon": "maroon",
        "burgundy": "burgundy",
        "charcoal": "charcoal",
        "bronze": "bronze",
        "copper": "copper",
        "champagne": "champagne",
        "graphite": "graphite",
        "titanium": "titanium",
        "cream": "cream",
        "khaki": "khaki",
        "olive": "olive",
        "lime": "lime",
        "rose": "rose",
        "coral": "coral",
        "transparent": "transparent clear",
        "lavender": "lavender",
        "midnight": "midnight",
    }
)
# Cyrillic (Russian, Ukrainian, Bulgarian) and Greek colours: adjectives, so the masculine,
# feminine, neuter and plural forms a title uses; Russian with "ё" and "е" (both are written);
# Greek with the final sigma as case folding writes it ("σ").
_OTHER_SCRIPTS = {
    "black": "черный черная черное черные чёрный чёрная чёрное чёрные чорний чорна чорне "
    "чорні черен черна черно черни μαύρο μαύροσ μαύρη μαύρα",
    "white": "белый белая белое белые білий біла біле білі бял бяла бяло бели λευκό λευκόσ "
    "λευκή λευκά άσπρο άσπροσ άσπρη άσπρα",
    "red": "красный красная красное красные червоний червона червоне червоні червен червена "
    "червено κόκκινο κόκκινοσ κόκκινη κόκκινα",
    "blue": "синий синяя синее синие голубой голубая голубое голубые синій синя синє сині "
    "блакитний блакитна μπλε",
    "green": "зеленый зеленая зеленое зеленые зелёный зелёная зелёное зелёные зелений "
    "зелена зелене зелені πράσινο πράσινοσ πράσινη πράσινα",
    "yellow": "желтый желтая желтое желтые жёлтый жёлтая жёлтое жёлтые жовтий жовта жовте "
    "жовті жълт жълта жълто κίτρινο κίτρινοσ κίτρινη κίτρινα",
    "grey": "серый серая серое серые сірий сіра сіре сірі сив сива сиво γκρι",
    "brown": "коричневый коричневая коричневое коричневые коричневий коричнева коричневе "
    "кафяв кафява καφέ",
    "pink": "розовый розовая розовое розовые рожевий рожева рожеве розов розова ροζ",
    "purple": "фиолетовый фиолетовая фиолетовое фиолетовые фіолетовий фіолетова лилав лилава μωβ",
    "orange": "оранжевый оранжевая оранжевое оранжевые помаранчевий помаранчева оранжев "
    "оранжева πορτοκαλί",
    "silver": "серебристый серебристая серебристое серебристые серебряный серебряная "
    "сріблястий срібляста сребрист сребриста ασημί",
    "gold": "золотой золотая золотое золотые золотистый золотистая золотистое золотистые "
    "золотистий золотиста златист златиста χρυσό χρυσόσ χρυσή χρυσαφί",
    "beige": "бежевый бежевая бежевое бежевые бежевий бежева бежов бежова μπεζ",
    "turquoise": "бирюзовый бирюзовая бирюзовое бирюзовые бірюзовий бірюзова τιρκουάζ",
    "burgundy": "бордовый бордовая бордовое бордовые бордовий бордова μπορντό",
    "khaki": "хаки χακί",
    "olive": "оливковый оливковая оливковое оливковые оливковий оливкова",
    "graphite": "графитовый графитовая графитовое графитовые",
    "cream": "кремовый кремовая кремовое кремовые кремовий кремова",
    "bronze": "бронзовый бронзовая бронзовое бронзовые",
    "copper": "медный медная медное медные",
    "coral": "коралловый коралловая коралловое коралловые",
    "lavender": "лавандовый лавандовая лавандовое лавандовые",
    "transparent": "прозрачный прозрачная прозрачное прозрачные прозорий прозора διάφανο",
}
COLOUR_WORDS |= _table(_OTHER_SCRIPTS)
# Colours are also named in CJK scripts (matched inside the run).
COLOUR_CJK: dict[str, str] = {
    "黑色": "black",
    "白色": "white",
    "红色": "red",
    "紅色": "red",
    "蓝色": "blue",
    "藍色": "blue",
    "绿色": "green",
    "綠色": "green",
    "黄色": "yellow",
    "黃色": "yellow",
    "灰色": "grey",
    "粉色": "pink",
    "粉红": "pink",
    "紫色": "purple",
    "金色": "gold",
    "银色": "silver",
    "銀色": "silver",
    "棕色": "brown",
    "橙色": "orange",
    "ブラック": "black",
    "ホワイト": "white",
    "レッド": "red",
    "ブルー": "blue",
    "グリーン": "green",
    "ピンク": "pink",
    "シルバー": "silver",
    "ゴールド": "gold",
    # Japanese: katakana loan words and the kanji colours written with 色
    "イエロー": "yellow",
    "グレー": "grey",
    "グレイ": "grey",
    "パープル": "purple",
    "オレンジ": "orange",
    "ベージュ": "beige",
    "ネイビー": "navy",
    "ブラウン": "brown",
    "黒色": "black",
    "赤色": "red",
    "青色": "blue",
    "緑色": "green",
    "茶色": "brown",
}
# One character names a colour only as a run of its own ("ヘッドホン 黒"): inside a run
# it is part of another word (黒酢 black vinegar is a product, 赤ちゃん a baby).
COLOUR_CJK_ALONE: dict[str, str] = {
    "黒": "black",
    "黑": "black",
    "白": "white",
    "赤": "red",
    "红": "red",
    "紅": "red",
    "青": "blue",
    "蓝": "blue",
    "藍": "blue",
    "緑": "green",
    "绿": "green",
    "綠": "green",
    "灰": "grey",
    "紫": "purple",
    "金": "gold",
    "银": "silver",
    "銀": "silver",
}

# Flavours and scents: stems (>= 4 letters) -> key. A flavour is what a food, drink or
# scented product *is* among its siblings ("vanilla" vs "blueberry" yoghurt).
FLAVOUR_STEMS: dict[str, str] = _table(
    {
        "vanilla": "vanil vainill vanigl wanili",
        "chocolate": "chocol schoko cokol cioccol chocola czekolad",
        "strawberry": "strawberr erdbeer fraise jahod jordgubb fragol fresa truskaw aardbei "
        "morango",
        "blueberry": "blueberr heidelbeer myrtill boruvk blabar mirtill borowk arandan bosbes",
        "raspberry": "raspberr himbeer frambois malinov malinow hallon lampon frambues framboos",
        "banana": "banan",
        "mango": "mango",
        "peach": "peach pfirsich peche broskv persik pesca brzoskw melocoton perzik",
        "apple": "apfel jablk jablec apple pomme manzan jablkow",
        "orange": "orange apelsin pomeranc arancia naranj",
        "lemon": "lemon zitron citron limon cytryn citroen",
        "lime": "lime limett",
        "cherry": "cherr kirsch cerise tresn korsbar cilieg wisni cereza",
        "coconut": "coconut kokos",
        "caramel": "caramel karamel karmel",
        "hazelnut": "hazelnut haselnuss noisette liskov hasseln nocciol avellan",
        "almond": "almond mandel amande mandl mandorl",
        "honey": "honey honig medov",
        "mint": "peppermint spearmint minze menthe",
        "coffee": "coffee kaffee espress",
        "cinnamon": "cinnamon zimt cannelle skoric kanel",
        "ginger": "ginger ingwer gingembre zazvor ingefar",
        "grapefruit": "grapefruit grapefrukt pamplemousse grep",
        "pineapple": "pineapple ananas",
        "pear": "birne poire hrusk paron",
        "apricot": "apricot aprikos abricot merunk",
        "plum": "pflaum prune svestk",
        "grape": "grape traube raisin hrozn",
        "watermelon": "watermelon wassermelon pasteque melou",
        "passion fruit": "maracuj",
        "cranberry": "cranberr preiselbeer brusink lingon",
        "blackcurrant": "blackcurrant johannisbeer cassis rybiz",
        "peanut": "peanut erdnuss cacahuet arasid jordnot",
        "matcha": "matcha",
        "chicken": "chicken huhn hahnchen poulet kure kuraci kyckling",
        "beef": "beef rind boeuf hovez",
        "turkey": "turkey pute truthahn dinde krut",
        "lamb": "lamb lamm agneau jehne",
        "salmon": "salmon lachs saumon losos lax",
        "tuna": "tuna thunfisch thon tunak",
        "duck": "duck ente canard kachn",
        "pork": "pork schwein porc veprov",
        "shrimp": "shrimp garnel crevette krevet",
        "cookies": "cookie",
        "bbq": "bbq barbecue barbeque",
        "cayenne": "cayenne",
        "chili": "chili chilli jalapen",
        "garlic": "garlic knoblauch",
        "onion": "onion zwiebel",
        "cheddar": "cheddar",
        "mustard": "mustard senf",
        "teriyaki": "teriyaki",
        "lavender": "lavend levand lawend",
        "jasmine": "jasmin",
        "eucalyptus": "eucalypt eukalypt",
        "citrus": "citrus",
        "original": "original plain",
        "unscented": "unscented parfumfrei",
        "lactose free": "lactosefree laktosfri laktosefrei",
        "oat": "hafer avoine",
        "soy": "soya",
    }
)
# Phrases written as several words; checked on the joined word sequence before the stems.
FLAVOUR_PHRASES: dict[str, str] = {
    "peanut butter": "peanut butter",
    "cookies and cream": "cookies and cream",
    "cookies n cream": "cookies and cream",
    "sea salt": "sea salt",
    "salt and vinegar": "salt and vinegar",
    "sour cream": "sour cream",
    "fragrance free": "unscented",
    "free and clear": "unscented",
    "free clear": "unscented",
    "lactose free": "lactose free",
    "sans lactose": "lactose free",
    "bez laktozy": "lactose free",
    "mixed berry": "mixed berry",
    "passion fruit": "passion fruit",
}

FLAVOUR_CJK: dict[str, str] = {
    "香草": "vanilla",
    "巧克力": "chocolate",
    "朱古力": "chocolate",
    "草莓": "strawberry",
    "蓝莓": "blueberry",
    "藍莓": "blueberry",
    "覆盆子": "raspberry",
    "香蕉": "banana",
    "芒果": "mango",
    "桃味": "peach",
    "水蜜桃": "peach",
    "苹果": "apple",
    "蘋果": "apple",
    "橙味": "orange",
    "橙汁": "orange",
    "柠檬": "lemon",
    "檸檬": "lemon",
    "樱桃": "cherry",
    "椰子": "coconut",
    "椰汁": "coconut",
    "焦糖": "caramel",
    "榛子": "hazelnut",
    "杏仁": "almond",
    "蜂蜜": "honey",
    "薄荷": "mint",
    "咖啡": "coffee",
    "抹茶": "matcha",
    "葡萄": "grape",
    "西瓜": "watermelon",
    "菠萝": "pineapple",
    "原味": "original",
    "无乳糖": "lactose free",
    "荔枝": "lychee",
    "哈密瓜": "melon",
    "红豆": "red bean",
    "バニラ": "vanilla",
    "チョコ": "chocolate",
    "いちご": "strawberry",
    "イチゴ": "strawberry",
    "抹茶味": "matcha",
}
# Words that mark a scent or flavour the lists may not know. English puts the name before
# the marker ("Spring Meadow Scent"); French, Czech, German and Swedish usually after it
# ("saveur vanille", "příchuť jahoda", "Geschmack Erdbeere", "sabor fresa", "smak hallon").
FLAVOUR_MARKERS_BEFORE = frozenset(
    {"scent", "scented", "fragrance", "flavor", "flavored", "flavour", "flavoured"}
)
FLAVOUR_MARKERS_AFTER = frozenset(
    {
        "duft",
        "geschmack",
        "parfum",
        "saveur",
        "arome",
        "gout",
        "smak",
        "smaku",
        "smaak",
        "doft",
        "prichut",
        "prichuti",
        "vune",
        "sabor",
        "gusto",
        "aroma",
        "zapach",
    }
)

# Model tiers: the same model line in another tier is another product. Compared only when
# both titles name one ("Pro" vs "Max"); a title without a tier is no evidence.
TIER_WORDS: dict[str, str] = _table(
    {
        "pro": "pro",
        "max": "max",
        "pro max": "promax",
        "mini": "mini",
        "plus": "plus",
        "ultra": "ultra",
        "lite": "lite",
        "fe": "fe",
        "se": "se",
    }
)

# Words after which the next few name another product the item fits ("case for Apple
# MacBook", "filter für Bosch"): not this item's colour, flavour or tier.
FITS_MARKERS = frozenset({"for", "fits", "compatible", "fur", "pour", "para"})

# Clothing sizes as words; numeric sizes need a marker ("size 10", "gr. 42", "EU 42").
SIZE_WORDS = frozenset({"xxs", "xs", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "5xl"})
SIZE_MARKERS = frozenset(
    {
        "size",
        "sz",
        "gr",
        "grosse",
        "groesse",
        "taille",
        "velikost",
        "vel",
        "talla",
        "taglia",
        "tamano",
        "rozmiar",
        "maat",
        "storlek",
        "尺码",
        "码",
    }
)
SIZE_LETTERS = frozenset({"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl"})
SHOE_SYSTEMS = frozenset({"eu", "us", "uk", "eur"})

# Ordinals that name a generation ("2nd gen", "3. Generation", "2e génération", "第二代").
GENERATION_WORDS = frozenset({"gen", "generation", "generace", "generacion", "generazione"})
CJK_ORDINALS: dict[str, str] = {
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
    "十": "10",
}
