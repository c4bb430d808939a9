"""What ``fitrep label`` reads of a dedup run folder: its items, its records, its base model.

The base the labels are layered on is the calibration the run was made with, unless that is
itself a layered one (a run redone with ``--calibration RUN/label-calibration.json``): then
its own base, so that labelling a rerun refits one layer on all the labels rather than a
layer on a layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fitrep.domain import InvalidInput, Item
from fitrep.readers import CatalogueError, read_catalogue
from fitrep.run_dir import MANIFEST
from index_server.scoring.calibration import Calibration
from index_server.storage.cluster_store import STORE_FILE

SHIPPED = "shipped"
LAYERED_ON = "layered_on"  # the note a layered calibration names its base by


@dataclass
class RunFolder:
    path: Path
    manifest: dict[str, object]
    item_ids: list[str]  # clusters.jsonl order (the input order)
    base_path: Path | None  # None: the shipped calibration
    base: Calibration

    @property
    def base_name(self) -> str:
        return SHIPPED if self.base_path is None else str(self.base_path.resolve())

    def records(self) -> tuple[dict[str, Item], str]:
        """The run's input records by id, and a warning ("" when none): a moved or changed
        input still leaves the concepts to show."""
        source = Path(str(self.manifest.get("input", "")))
        try:
            items = read_catalogue(
                source, str(self.manifest.get("encoding", "utf-8")), skip_bad=True
            ).items
        except (CatalogueError, OSError) as exc:
            return {}, f"the run's input is not readable ({exc}): showing concepts only"
        return {it.id: it for it in items}, ""


def _base(spec: str, encoder: str) -> tuple[Path | None, Calibration]:
    """The calibration a run named (``encoder``: its ``--encoder``, for the shipped one)."""
    if spec == SHIPPED:
        from mllm_server.chie.encoder import vector_label

        return None, Calibration.load(encoder=vector_label(encoder))
    path = Path(spec)
    if not path.is_file():
        raise InvalidInput(
            "calibration", f"{path}, the run's calibration, is gone; restore it or rerun dedup"
        )
    return path, Calibration.load(path)


def open_run(run: Path) -> RunFolder:
    """The run at ``run``: a complete ``fitrep dedup --out`` folder, or an error naming it."""
    if not (run / "index" / STORE_FILE).is_file() or not (run / MANIFEST).is_file():
        raise InvalidInput("RUN", f"{run} is not a dedup run (run `fitrep dedup --out {run}`)")
    manifest = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
    ids = [
        json.loads(line)["id"]
        for line in (run / "clusters.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    encoder = str(manifest.get("encoder") or "minilm")
    path, calibration = _base(str(manifest.get("calibration") or SHIPPED), encoder)
    layered_on = calibration.notes.get(LAYERED_ON)
    if layered_on:
        path, calibration = _base(str(layered_on), encoder)
    return RunFolder(run, manifest, ids, path, calibration)
