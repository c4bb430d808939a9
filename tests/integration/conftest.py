"""Both real servers as subprocesses on free loopback ports, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fitrep.client import Client
from fitrep.domain import Item
from fitrep.launch import LaunchError, LocalServers, free_port

MAX_BATCH = 64  # small, so the oversize-batch test is cheap
BATCH_SIZE = 8  # the client splits the catalogue into several messages

# Known duplicate groups (same letter prefix, same product), plus near-misses that must not
# merge with them (other model code, colour, capacity) and singletons.
CATALOGUE: list[tuple[str, str, str]] = [
    ("cam1", "Sony Cyber-shot DSC-W120 7.2MP digital camera pink", "4x optical zoom"),
    ("cam2", "sony cybershot dscw120 pink 7.2 megapixel camera", "compact camera"),
    ("cam3", "Sony Cyber-shot DSC-W120 digital camera 7.2 MP, pink", ""),
    ("cam4", "Sony Cyber-shot DSC-W130 8.1MP digital camera black", "4x optical zoom"),
    ("prn1", "Canon PIXMA MX700 all-in-one printer", "print scan copy fax"),
    ("prn2", "canon pixma mx700 multifunction inkjet printer", "print, scan, copy and fax"),
    ("prn3", "Canon PIXMA MP610 photo inkjet printer", "print scan copy"),
    ("ink1", "Epson T0441 black ink cartridge", "genuine epson ink"),
    ("ink2", "Epson T0442 cyan ink cartridge", "genuine epson ink"),
    ("ink3", "EPSON T0441 Black Ink Cartridge (genuine)", ""),
    ("off1", "Microsoft Office 2007 Professional", "office suite for windows"),
    ("off2", "microsoft office professional 2007 full version", ""),
    ("off3", "Microsoft Office 2003 Professional", "office suite"),
    ("hd1", "Sony WH-1000XM4 wireless noise cancelling headphones black", ""),
    ("hd2", "Sony WH1000XM4 Noise Cancelling Wireless Headphones - Black", ""),
    ("hd3", "Bose QuietComfort 45 wireless headphones", "noise cancelling"),
    ("usb1", "SanDisk Cruzer Blade 32GB USB flash drive", ""),
    ("usb2", "SanDisk Cruzer Blade USB Flash Drive 32 GB", "compact"),
    ("usb3", "SanDisk Cruzer Blade 64GB USB flash drive", ""),
    ("kb1", "Logitech K120 wired keyboard", "USB, spill resistant"),
    ("kb2", "Logitech K120 Keyboard (wired, USB)", ""),
    ("ms1", "Logitech M185 wireless mouse grey", ""),
    ("nt1", "Norton Antivirus 2008 1 user", "protection for windows"),
    ("nt2", "Norton AntiVirus 2008 - 1 User", ""),
    ("ph1", "Adobe Photoshop Elements 6.0 for Windows", "photo editing"),
    ("ph2", "adobe photoshop elements 6 windows", ""),
    ("ph3", "Adobe Premiere Elements 4.0", "video editing"),
    ("tea1", "Twinings English Breakfast tea 50 bags", ""),
    ("bat1", "Duracell AA alkaline batteries 8 pack", ""),
    ("lamp1", "IKEA Tertial work lamp silver", ""),
]


def catalogue_items() -> list[Item]:
    return [Item(i, title, text) for i, title, text in CATALOGUE]


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    root: Path = tmp_path_factory.mktemp("serve")
    logs = root / "logs"
    local = LocalServers("127.0.0.1", free_port(), free_port()).start(
        root / "index", extra_args=["--max-batch", str(MAX_BATCH)], log_dir=logs
    )
    try:
        local.wait_healthy(timeout=120)
    except LaunchError:
        local.stop()
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-4000:]}")
        raise
    yield local
    codes = local.stop()
    assert codes == {"mllm_server": 0, "index_server": 0}, f"unclean shutdown: {codes}"


@pytest.fixture(scope="session")
def client(servers: LocalServers) -> Iterator[Client]:
    with Client(servers.concept, servers.index, batch_size=BATCH_SIZE, timeout=60) as c:
        yield c
