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


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Any Parquet file as a DataFrame; ReportError naming the file when it cannot be read."""
    try:
        frame: pd.DataFrame = pq.read_table(path).to_pandas()  # pyarrow is untyped
    except Exception as exc:  # pyarrow raises several types; map them all at the boundary
        raise ReportError(f"{path}: cannot read Parquet: {type(exc).__name__}: {exc}") from exc
    return frame


def _read(path: str | Path, schema: pa.Schema) -> pd.DataFrame:
    frame = read_parquet(path)
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise ReportError(f"{path}: missing columns {missing}")
    return frame


def read_history(path: str | Path) -> pd.DataFrame:
    """The history as a DataFrame with HISTORY_SCHEMA's columns (``kind`` categorical)."""
    return _read(path, HISTORY_SCHEMA)


def read_final_log(path: str | Path) -> pd.DataFrame:
    """The final logs (FINAL_LOG_SCHEMA) as a DataFrame."""
    return _read(path, FINAL_LOG_SCHEMA)


def read_readback(path: str | Path) -> pd.DataFrame:
    """The read-back summary (READBACK_SCHEMA), one row per channel."""
    return _read(path, READBACK_SCHEMA)
