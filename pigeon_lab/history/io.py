"""Reading and writing histories, final logs and read-back summaries (Parquet, zstd)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pigeon_lab.errors import ReportError
from pigeon_lab.history.schema import FINAL_LOG_SCHEMA, HISTORY_SCHEMA, READBACK_SCHEMA


def write_table(table: pa.Table, path: str | Path) -> Path:
    """Write ``table`` to ``path`` as Parquet (zstd), atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
    return path


def _read(path: str | Path, schema: pa.Schema) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ReportError(f"{path}: missing columns {missing}")
    return table.to_pandas()


def read_history(path: str | Path) -> pd.DataFrame:
    """The history as a DataFrame with HISTORY_SCHEMA's columns (``kind`` categorical)."""
    return _read(path, HISTORY_SCHEMA)


def read_final_log(path: str | Path) -> pd.DataFrame:
    """The final logs (FINAL_LOG_SCHEMA) as a DataFrame."""
    return _read(path, FINAL_LOG_SCHEMA)


def read_readback(path: str | Path) -> pd.DataFrame:
    """The read-back summary (READBACK_SCHEMA), one row per channel."""
    return _read(path, READBACK_SCHEMA)
