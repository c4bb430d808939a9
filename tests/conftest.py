"""Shared fixtures: small data built in code, one real encoder per session."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from fitrep.domain import Item

# The rules backend's concept cache stays off in tests (a test that patches a word list must
# see its patch, and no test writes to the user's cache); test_rules_cache turns it on.
os.environ["FITREP_CONCEPT_CACHE"] = ""


def hash_embed(texts: list[str] | tuple[str, ...], dim: int = 384) -> np.ndarray:
    """A deterministic stand-in encoder (bag of hashed words): fast, and equal texts give equal
    vectors, so unit tests of the index need no model."""
    out = np.zeros((len(texts), dim), np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            h = int(hashlib.blake2b(word.encode(), digest_size=8).hexdigest(), 16)
            out[i, h % dim] += 1.0 if (h >> 20) & 1 else -1.0
        norm = np.linalg.norm(out[i])
        out[i] = out[i] / norm if norm else out[i]
    return out


CATALOGUE = [
    Item(
        "s1", "Sony Cyber-shot DSC-W120 7.2MP digital camera pink", "4x optical zoom 2.5 inch LCD"
    ),
    Item(
        "s2",
        "sony cybershot dscw120 pink 7.2 megapixel camera",
        "compact camera with face detection",
    ),
    Item(
        "s3", "Sony Cyber-shot DSC-W120 7.2MP digital camera black", "4x optical zoom 2.5 inch LCD"
    ),
    Item("c1", "Canon PIXMA MX700 all-in-one printer", "print scan copy fax"),
    Item("c2", "canon pixma mx700 multifunction inkjet printer", "print, scan, copy and fax"),
    Item("e1", "Epson T0441 black ink cartridge", "genuine epson ink"),
    Item("e2", "Epson T0442 cyan ink cartridge", "genuine epson ink"),
    Item(
        "m1",
        "Microsoft Office 2007 Professional",
        "office suite for windows",
        attributes={"manufacturer": "microsoft"},
    ),
    Item(
        "m2",
        "microsoft office professional 2007 full version",
        "",
        attributes={"manufacturer": "microsoft"},
    ),
    Item(
        "m3",
        "Microsoft Office 2003 Professional",
        "office suite",
        attributes={"manufacturer": "microsoft"},
    ),
    Item("o1", "Oatly oat drink 1 l", "oat drink carton"),
    Item("o2", "Oatly oat drink 500 ml", "oat drink carton"),
]


@pytest.fixture(scope="session")
def catalogue() -> list[Item]:
    return [Item(i.id, i.title, i.text, i.image, dict(i.attributes)) for i in CATALOGUE]


@pytest.fixture(scope="session")
def concept_engine():
    """The real CPU backend with the real MiniLM encoder, loaded once."""
    from mllm_server.chie.engine import ConceptEngine

    engine = ConceptEngine.create("rules")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def embedded(concept_engine, catalogue):
    return concept_engine.process(catalogue)


@pytest.fixture(scope="session")
def fast_items(catalogue):
    """The catalogue through the rules backend with the hash stand-in encoder (no model)."""
    from mllm_server.chie.encoder import LevelEncoder
    from mllm_server.chie.engine import ConceptEngine
    from mllm_server.chie.rules import RulesExtractor

    return ConceptEngine(RulesExtractor(), LevelEncoder(embed=hash_embed)).process(catalogue)
