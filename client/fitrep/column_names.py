"""What a column's *name* says about its role, in several languages.

A source of roles, not the judge: names not listed here are decided by the data
(``fitrep.columns``). Column names are folded (NFKC, casefold) and split into words at
anything that is not a letter or digit, and matched whole: ``sale_price`` holds the word
``price``, ``caprice`` does not. German glues its compounds together (``Verkaufspreis``,
``Lagerbestand``), so a few German heads also match at the end of a word; Chinese and
Japanese names have no spaces, so their words match anywhere in the name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import Enum


class ColumnRole(str, Enum):
    """What a column describes.

    ``identity``: the product (brand, model code, GTIN, size, colour, capacity): evidence for
    and against two records being one item. ``listing``: the offer (price, rating, reviews,
    stock, seller, URL, dates, shipping): two listings of one item differ there, so it is
    never evidence either way (a price still feeds the calibrated price gap). ``text``: prose
    about the item; it stands in for an empty description, else is read with the other
    attributes. ``ignore``: not read at all.
    """

    IDENTITY = "identity"
    LISTING = "listing"
    TEXT = "text"
    IGNORE = "ignore"


_LISTING = """
price prices preis prix precio precios prezzo cena ceny cost costs kosten coût cout coste
msrp rrp uvp srp mrp discount rabatt remise descuento sleva sale offer offers angebot oferta
currency währung waehrung devise moneda měna mena
rating ratings rated bewertung bewertungen note évaluation evaluation valoración
valoracion calificación calificacion puntuación puntuacion hodnocení hodnoceni stars star
sterne étoiles etoiles estrellas hvězdičky score
review reviews rezension rezensionen avis commentaires comments reseñas resenas opiniones
opinions recenze recenzí
stock stocks lager bestand lagerbestand availability available verfügbarkeit verfuegbarkeit
disponibilité disponibilite disponible disponibilidad dostupnost skladem sklad inventory qty
seller sellers verkäufer verkaeufer händler haendler anbieter vendeur marchand vendedor
vendedora tienda prodejce obchod shop store merchant retailer marketplace source
url urls link links href web website webseite uri permalink
shipping versand lieferung versandkosten livraison expédition expedition envío envio entrega
doprava dodání dodani delivery freight
date dates datum fecha datum_listed listed created updated modified scraped crawled
timestamp time_listed last_seen first_seen posted published_at
views sold verkauft vendu vendus vendidos prodáno prodano sales bestseller rank ranking
position condition zustand état etat estado stav
цена цены стоимость ціна вартість τιμή рейтинг оценка оцінка αξιολόγηση отзывы отзыв
відгуки κριτικές продавец магазин продавець πωλητής наличие остаток наявність
διαθεσιμότητα доставка αποστολή ссылка посилання σύνδεσμος дата ημερομηνία
"""
_IDENTITY = """
brand brands marke marque marca značka znacka manufacturer hersteller fabricant fabricante
výrobce vyrobce maker make vendor producer
model models modell modèle modele modelo mpn gtin ean upc isbn asin sku part partnumber
article artikel artikelnummer référence reference referencia katalogové kod code
size größe groesse grösse taille talla tamaño tamano velikost velikosti dimensions dimension
colour color colours colors farbe couleur barva
capacity kapazität kapazitaet capacité capacite capacidad kapacita storage speicher memory
ram volume volumen objem weight gewicht poids peso hmotnost
flavour flavor geschmack saveur sabor příchuť prichut scent duft parfum aroma
material pack packung variant variante edition version generation release released
бренд марка производитель виробник μάρκα κατασκευαστής модель μοντέλο артикул код
κωδικός размер розмір μέγεθος цвет колір χρώμα объем обсяг вес вага βάρος память
"""
_TEXT = """
description descriptions beschreibung descripción descripcion popis details detail
specification specifications specs spezifikation caractéristiques caracteristiques
características caracteristicas features merkmale summary notes body content text
bullets highlights
описание опис περιγραφή характеристики
"""
_IGNORE = """
uuid index row rownum row_number internal_id image_url thumbnail
"""
# German compound heads: ``Verkaufspreis`` is a price, ``Lagerbestand`` stock.
_GERMAN_HEADS = {
    "preis": ColumnRole.LISTING,
    "kosten": ColumnRole.LISTING,
    "bewertung": ColumnRole.LISTING,
    "bewertungen": ColumnRole.LISTING,
    "bestand": ColumnRole.LISTING,
    "versand": ColumnRole.LISTING,
    "händler": ColumnRole.LISTING,
    "datum": ColumnRole.LISTING,
    "farbe": ColumnRole.IDENTITY,
    "größe": ColumnRole.IDENTITY,
    "gewicht": ColumnRole.IDENTITY,
    "nummer": ColumnRole.IDENTITY,
    "beschreibung": ColumnRole.TEXT,
}
# Chinese / Japanese words, matched anywhere in the name (no spaces between words there).
_CJK = {
    ColumnRole.LISTING: """价格 價格 售价 價錢 价钱 定价 价 値段 価格 评分 評分 评价 評價 評価 星级
        评论 評論 レビュー 库存 庫存 在庫 卖家 賣家 商家 店铺 店舖 店 販売者 链接 鏈接 网址 運費
        运费 配送 送料 日期 销量 銷量 上架""",
    ColumnRole.IDENTITY: """品牌 牌子 ブランド 制造商 厂商 メーカー 型号 型號 型番 尺码 尺寸
        サイズ 规格 規格 颜色 顏色 色 カラー 容量 重量 口味 味道 材质 版本""",
    ColumnRole.TEXT: "描述 说明 說明 详情 詳情 说明书 商品描述 説明 詳細",
}


_SPLIT = re.compile(r"[^\w]+|_")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """``"salePrice"`` / ``"sale_price"`` / ``"Sale Price"`` -> ``["sale", "price"]``."""
    text = unicodedata.normalize("NFKC", name)
    text = _CAMEL.sub(" ", text)
    return [w for w in _SPLIT.split(text.casefold()) if w]


def _table(words: str, role: ColumnRole) -> dict[str, ColumnRole]:
    return {"".join(name_words(w)): role for w in words.split()}


_WORDS: dict[str, ColumnRole] = {
    **_table(_IGNORE, ColumnRole.IGNORE),
    **_table(_TEXT, ColumnRole.TEXT),
    **_table(_IDENTITY, ColumnRole.IDENTITY),
    **_table(_LISTING, ColumnRole.LISTING),
}


def role_by_name(name: str) -> tuple[ColumnRole, str] | None:
    """The role the column's name says, and the word that said it; None for names no table
    knows. The last known word decides (the head of an English or German compound:
    ``brand_url`` is a link, ``review_score`` a rating)."""
    words = name_words(name)
    whole = "".join(words)
    if whole in _WORDS:
        return _WORDS[whole], whole
    for word in reversed(words):
        if word in _WORDS:
            return _WORDS[word], word
        for head, role in _GERMAN_HEADS.items():
            if word.endswith(head) and len(word) > len(head):
                return role, head
    folded = unicodedata.normalize("NFKC", name)
    for role, cjk_words in _CJK.items():
        for word in sorted(cjk_words.split(), key=len, reverse=True):
            if word in folded:
                return role, word
    return None


_PRICE_WORDS = frozenset(
    "price preis prix precio prezzo cena cost kosten coût coste msrp rrp uvp srp цена "
    "стоимость ціна вартість τιμή".split()
)
# The columns that name the maker: the English names in the order the extractor reads them
# (a ``brand`` column before a ``manufacturer`` one), then the other languages'.
BRAND_KEYS = ("brand", "manufacturer", "maker", "vendor", "make")
_BRAND_NAMES = frozenset(BRAND_KEYS) | frozenset(
    "".join(name_words(w))
    for w in """marke marque marca značka znacka hersteller fabricant fabricante výrobce
    vyrobce producent бренд марка производитель виробник μάρκα κατασκευαστής""".split()
)
_BRAND_CJK = ("品牌", "牌子", "ブランド", "制造商", "厂商", "メーカー")


def is_brand_name(name: str) -> bool:
    """The whole column name names the maker (``Marke``, ``бренд``, ``品牌``): a name with
    more in it (``brand_url``) is some other column."""
    return "".join(name_words(name)) in _BRAND_NAMES or name.strip() in _BRAND_CJK


def brand_columns(names: Iterable[str]) -> list[str]:
    """Of ``names``, those that name the maker: ``BRAND_KEYS`` first, in their order, then
    the others in theirs."""
    names = list(names)
    known = [k for k in BRAND_KEYS if k in names]
    return known + [k for k in names if k not in known and is_brand_name(k)]


_PRICE_CJK = ("价格", "價格", "售价", "價錢", "价钱", "定价", "値段", "価格")


def is_price_name(name: str) -> bool:
    """The column holds a price (``price``, ``Verkaufspreis``, ``prix``, ``价格``), not a
    rating or a count."""
    words = name_words(name)
    if any(w in _PRICE_WORDS or w.endswith(("preis", "kosten")) for w in words):
        return True
    return any(w in name for w in _PRICE_CJK)
