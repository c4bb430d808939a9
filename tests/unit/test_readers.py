import json

import pytest
from fitrep.readers import CatalogueError, read_items


def test_jsonl_and_csv_with_attributes_and_relative_images(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"x")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": 1, "title": "T", "description": "D", "image": "img/a.png", "brand": "B"})
        + "\n"
    )
    (item,) = read_items(tmp_path / "c.jsonl")
    assert item.id == "1" and item.text == "D" and item.attributes == {"brand": "B"}
    assert item.image == tmp_path / "img" / "a.png"
    (tmp_path / "c.csv").write_text("id,title,price\na,Widget,3\n")
    (item,) = read_items(tmp_path / "c.csv")
    assert item.title == "Widget" and item.attributes == {"price": "3"}


def test_latin1_is_a_clear_error_naming_the_line_or_read_with_encoding(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("id,title\n1,ok\n2,caf\xe9 cr\xe8me\n".encode("latin-1"))
    with pytest.raises(CatalogueError) as err:
        read_items(path)
    assert f"{path}:3" in str(err.value) and "--encoding" in str(err.value)
    items = read_items(path, encoding="latin-1")
    assert items[1].title == "café crème"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"title": "no id"}\n', "missing 'id'"),
        ('{"id": "a"}\n', "no title, text or image"),
        ('{"id": "a", "title": "x"}\n{"id": "a", "title": "y"}\n', "duplicate id"),
        ("not json\n", "invalid JSON"),
    ],
)
def test_bad_records(tmp_path, content, message):
    path = tmp_path / "c.jsonl"
    path.write_text(content)
    with pytest.raises(CatalogueError, match=message):
        read_items(path)
