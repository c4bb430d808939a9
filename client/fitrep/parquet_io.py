"""Parquet in and out (pyarrow): catalogue rows streamed a record batch at a time, clusters
written a batch at a time.

A catalogue is never read as one table: ``iter_batches`` decodes at most ``BATCH_ROWS`` rows
of one row group at a time, so Arrow holds one batch, not the file (a 10 GB catalogue would
otherwise need 10 GB of Arrow memory on top of the items made from it). ``pre_buffer`` is off:
on, pyarrow reads the whole file ahead (8.8 MB of Arrow memory for an 8 MB file of 40 row
groups, 0.6 MB with it off; tests/unit/test_parquet.py). Each row becomes the record a jsonl
line or a CSV row becomes, under the same column rules (``fitrep.readers``); rows are named
``FILE row N`` (1-based, in file order) where a text file names ``FILE:LINE``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fitrep.domain import Level
from fitrep.readers import CatalogueError

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 1024  # rows decoded at a time, read and written


def row_where(path: Path, row: int) -> str:
    """How an error names a Parquet row (1-based)."""
    return f"{path} row {row}"


def parquet_records(
    path: Path, bad: Callable[[CatalogueError], None], batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) per row of a Parquet file, in order. A file that is not Parquet or has
    no ``id`` column raises ``CatalogueError``; a row group that cannot be decoded goes to
    ``bad`` (which raises unless bad rows are skipped; then its rows are skipped with it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path, pre_buffer=False)  # True reads the whole file ahead
    except FileNotFoundError:
        raise CatalogueError(str(path), "file not found") from None
    except PermissionError:
        raise CatalogueError(str(path), "permission denied") from None
    except (pa.ArrowException, OSError) as exc:
        raise CatalogueError(str(path), f"not a readable Parquet file ({exc})") from None
    names = source.schema_arrow.names
    if "id" not in [n.strip().lower() for n in names]:
        raise CatalogueError(
            str(path), f"the schema must have an 'id' column; its columns: {', '.join(names)}"
        )
    try:
        first = 1
        for group in range(source.num_row_groups):
            rows = source.metadata.row_group(group).num_rows
            try:
                for batch in source.iter_batches(batch_size=batch_rows, row_groups=[group]):
                    for record in batch.to_pylist():
                        yield row_where(path, first), record
                        first, rows = first + 1, rows - 1
            except (pa.ArrowException, OSError) as exc:
                reason = " ".join(str(exc).split())  # pyarrow's messages span lines
                bad(
                    CatalogueError(
                        row_where(path, first),
                        f"row group {group + 1} cannot be decoded from this row on ({reason})",
                    )
                )
                first += rows  # its remaining rows are skipped with it
    finally:
        source.close()


def _schema(changes: bool) -> pa.Schema:
    import pyarrow as pa

    levels = pa.struct([(level.name.lower(), pa.float64()) for level in Level])
    fields = [
        ("id", pa.string()),
        ("cluster_id", pa.string()),
        ("family_id", pa.string()),
        ("representative_id", pa.string()),
        ("nearest_id", pa.string()),
        ("similarity", pa.float64()),
        ("confidence", pa.float64()),
        ("is_new_cluster", pa.bool_()),
        ("per_level", levels),  # null where the level is absent (a key left out in jsonl)
    ]
    if changes:
        fields += [("change", pa.string()), ("previous_cluster_id", pa.string())]
    return pa.schema(fields)


def write_parquet(path: Path, records: Iterable[dict[str, object]], changes: bool) -> Path:
    """clusters.jsonl's records as ``path`` (one row each, the same columns; ``per_level`` a
    struct with a field per level), via a temp file, ``BATCH_ROWS`` rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(changes)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        batch: list[dict[str, object]] = []
        for record in records:
            batch.append(record)
            if len(batch) == BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema))
    tmp.replace(path)
    return path
