"""IndexState: the index's memory state in one object, which the store fills and the stages read.

The engine drives the pipeline over it; ``state_store`` fills it from the store and commits
its batches; ``queries`` reads it; ``upserts`` keeps its books for changed items. Each of them
takes the state, none the engine, so no module of the write path imports another back.

A batch that fails before its commit is not undone part by part: the engine builds a new
state from the store (``IndexEngine._load``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.clusterer import Clusterer
from index_server.clustering.decision_log import DecisionLog
from index_server.clustering.join_rule import JoinRule
from index_server.clustering.representative import Representatives
from index_server.config import IndexConfig, RepresentativePolicy
from index_server.integration import LevelLayout
from index_server.rows.compact import Records, VectorCodec
from index_server.rows.table import RowTable
from index_server.scoring.calibration import Calibration
from index_server.scoring.catalogue_fit import SelfCalibration
from index_server.scoring.catalogue_sample import fit_on_rows
from index_server.scoring.logistic import LogisticScorer
from index_server.scoring.row_scorer import RowScorer
from index_server.storage.vector_file import VECTOR_FILE, VectorFile

log = logging.getLogger("fitrep.index")


@dataclass
class IndexState:
    """The rows, their candidate channels, the clusters and every row's decision, the
    representatives, and the vector records, the catalogue's self-calibration; with what
    they were built from (``config``, ``calibration``, ``data_dir``: None keeps everything in
    memory)."""

    config: IndexConfig
    calibration: Calibration
    data_dir: Path | None
    policy: RepresentativePolicy
    rows: RowTable = field(init=False)
    candidates: CandidateGenerator = field(init=False)
    clusterer: Clusterer = field(init=False)
    representatives: Representatives = field(init=False)
    scorer: RowScorer | None = None  # set with the layout
    encoder: str = ""  # the encoder the index's vectors come from; "" when not recorded
    # the rows' vector records: a file beside the store, or in memory without a data dir
    vectors: VectorFile | Records | None = None
    # the catalogue's own weights (``scoring.catalogue_fit``); not fitted: the shipped alone
    self_calibration: SelfCalibration = field(default_factory=SelfCalibration)

    def __post_init__(self) -> None:
        self.rows = RowTable()
        self.candidates = CandidateGenerator(self.rows, self.config, self.calibration.weights)
        rule = JoinRule.from_config(self.calibration.threshold, self.config)
        self.clusterer = Clusterer(rule, DecisionLog(self.rows.ids))
        self.representatives = Representatives(self.policy)

    @property
    def rule(self) -> JoinRule:
        return self.clusterer.rule

    def close_vectors(self) -> None:
        """Close the vector file (in-memory records stay: ``set_layout`` cuts them back)."""
        if isinstance(self.vectors, VectorFile):
            self.vectors.close()
            self.vectors = None

    def set_layout(self, layout: LevelLayout, vectors: Mapping[str, Any] | None = None) -> None:
        """The index's layout, and its vector records: ``vectors`` is the committed state of
        the vector file (``storage.persistence``); None: a new file (nothing committed, so a
        file left by an uncommitted first batch is discarded)."""
        configured = self.config.vector_codec
        codec = VectorCodec(layout, str((vectors or {}).get("codec", configured)))
        if codec.name != configured:
            log.info("event=vector_codec stored=%s configured=%s", codec.name, configured)
        committed = vectors or {}
        if self.data_dir is not None:
            path = self.data_dir / VECTOR_FILE
            if vectors is None:
                path.unlink(missing_ok=True)
            self.vectors = VectorFile(
                path,
                codec.dtype,
                codec.name,
                int(committed.get("rows", 0)),
                int(committed.get("crc32", 0)),
            )
        elif isinstance(self.vectors, Records) and vectors is not None:
            self.vectors.truncate(int(committed.get("rows", 0)))  # rolling a batch back
        else:
            self.vectors = Records(codec.dtype)
        self.rows.set_layout(layout, codec, self.vectors)
        self.scorer = RowScorer(self.rows, self.calibration, layout)
        self.use_self_calibration(self.self_calibration)

    def fit_self_calibration(self) -> SelfCalibration:
        """The catalogue's own weights (``scoring.catalogue_fit``), from its stored rows."""
        fitted = fit_on_rows(
            self.rows,
            self.candidates.candidates,
            scope=self.config.self_calibration,
            calibration=self.calibration,
        )
        log.info("event=self_calibration fitted=%s reason=%r", fitted.fitted, fitted.reason)
        return fitted

    def use_self_calibration(self, fitted: SelfCalibration) -> None:
        """Judge pairs with ``fitted`` from now on (not fitted: the shipped calibration alone).
        It corrects the logistic scorer's logit; another scorer is judged without it."""
        self.self_calibration = fitted
        verifier = self.scorer.verifier if self.scorer is not None else None
        if isinstance(verifier, LogisticScorer):
            verifier.adjust = fitted.pair_adjust() if fitted.fitted else None
            verifier.max_adjustment = fitted.max_adjustment
