"""``fitrep dedup`` SIGKILLed mid-run: OUT keeps the previous complete run, ``--resume``
finishes the killed one with the clusters.jsonl of an uninterrupted run.

A 600-item catalogue (the demo's 400 and 200 reworded copies: three concept batches) runs as
a subprocess with its own empty encoder cache, so the concept stage is slow enough to kill in.
The kill comes once the staging checkpoint holds a whole batch; OUT then holds an earlier run
of another catalogue, and must still hold exactly it. A resume refuses a changed input in one
line and, on the unchanged one, reuses the checkpoint and writes the reference bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "data" / "catalogue.jsonl"
ENTRY = "from fitrep.cli import app; app()"


def _env(tmp: Path) -> dict[str, str]:
    path = os.pathsep.join([str(REPO / "client"), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "FITREP_ENCODER_CACHE": str(tmp / "enc.sqlite")}


def _cmd(catalogue: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", ENTRY, "dedup", str(catalogue), "--out", str(out), *extra]


def _dedup(env: dict[str, str], catalogue: Path, out: Path, *extra: str):
    cmd = _cmd(catalogue, out, "--no-progress", *extra)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _tree(run: Path) -> dict[str, str]:
    """Every file under ``run`` (the index too) by its SHA-256."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


def _checkpointed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            return int(con.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.Error:
        return 0


def _catalogue(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_sigkill_keeps_old_run_and_resume_gives_identical_clusters(tmp_path: Path) -> None:
    env = _env(tmp_path)
    demo = DEMO.read_text(encoding="utf-8").splitlines()
    reworded = []
    for line in demo[:200]:
        row = json.loads(line)
        row["id"] = f"{row['id']}-copy"
        row["title"] = f"{row.get('title', '')} (new)"
        reworded.append(json.dumps(row))
    big = _catalogue(tmp_path / "big.jsonl", demo + reworded)
    small = _catalogue(tmp_path / "small.jsonl", demo[:100])

    started = time.monotonic()
    ref = tmp_path / "ref"
    done = _dedup(env, big, ref)
    assert done.returncode == 0, done.stderr
    reference = (ref / "clusters.jsonl").read_bytes()
    assert len(reference.splitlines()) == 600

    out = tmp_path / "out"
    first = _dedup(env, small, out)
    assert first.returncode == 0, first.stderr
    before, small_clusters = _tree(out), (out / "clusters.jsonl").read_bytes()
    assert "index/store.sqlite" in before and "clusters.jsonl" in before

    # The run to kill: a fresh encoder cache, so the 600 items are encoded, not looked up.
    kill_env = {**env, "FITREP_ENCODER_CACHE": str(tmp_path / "enc-kill.sqlite")}
    checkpoint = tmp_path / "out.partial" / "embedded-v2.sqlite"
    proc = subprocess.Popen(
        _cmd(big, out, "--no-progress"),
        env=kill_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _checkpointed(checkpoint) < 256:
            assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "no concept batch checkpointed after 60 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    kept = _checkpointed(checkpoint)
    assert 256 <= kept < 600
    assert _tree(out) == before, "OUT changed under a killed run"
    assert (tmp_path / "out.partial").is_dir()

    changed = _catalogue(tmp_path / "big.jsonl", [*demo, *reworded[:-1]])
    refused = _dedup(env, changed, out, "--resume")
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert message.startswith("error: cannot resume") and "input file changed" in message
    assert "Traceback" not in refused.stderr
    assert _tree(out) == before

    _catalogue(big, demo + reworded)
    resumed = _dedup(env, big, out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the unfinished run" in resumed.stderr
    assert (out / "clusters.jsonl").read_bytes() == reference
    assert not (tmp_path / "out.partial").exists() and not (tmp_path / "out.old").exists()
    assert json.loads((out / "summary.json").read_text())["items"] == 600

    again = _dedup(env, small, out, "--resume")
    assert again.returncode == 0, again.stderr
    assert "nothing to resume" in again.stderr
    assert (out / "clusters.jsonl").read_bytes() == small_clusters
    print(f"\ndedup crash+resume: kept {kept}/600 items, {time.monotonic() - started:.1f} s")
