"""Columns as integer codes and rows as plain dicts: the pandas edge of the checkers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def codes_of(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the categories, without copying categoricals."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int32), s.cat.categories
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes.astype(np.int32), pd.Index(uniques)


def map_into(s: pd.Series, cats: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``s`` in the space of ``cats``, extended with values ``cats`` lacks."""
    own, own_cats = codes_of(s)
    lut = (
        cats.get_indexer(own_cats).astype(np.int32)
        if len(cats)
        else np.full(len(own_cats), -1, np.int32)
    )
    new = lut < 0
    if new.any():
        lut[new] = len(cats) + np.arange(int(new.sum()), dtype=np.int32)
        cats = cats.append(own_cats[new])
    out = np.where(own >= 0, lut[np.maximum(own, 0)] if len(lut) else -1, -1).astype(np.int32)
    return out, cats


def int_col(s: pd.Series, null: int = -1) -> np.ndarray:
    """A nullable integer column as int64 with ``null`` (default -1) for null."""
    return s.to_numpy(dtype=np.int64, na_value=null)


def float_col(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def with_columns(df: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``df`` with any missing column of ``names`` added as nulls (older writers)."""
    missing = [n for n in names if n not in df.columns]
    if not missing:
        return df
    return df.assign(
        **{n: pd.Series([None] * len(df), index=df.index, dtype=object) for n in missing}
    )


def _py(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def columns_of(df: pd.DataFrame) -> list[tuple[str, Any]]:
    """Each column's values without a copy (numpy or pandas array): cheap to take rows from."""
    out: list[tuple[str, Any]] = []
    for name in df.columns:
        s = df[name]
        out.append((str(name), s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array))
    return out


def take_records(columns: list[tuple[str, Any]], take: np.ndarray) -> list[dict[str, Any]]:
    """Rows ``take`` of ``columns_of`` as dicts of plain Python values, dropping nulls."""
    if len(take) <= 8:  # a few rows: scalar access is cheaper than a take per column
        at = [int(i) for i in take]
        values = [[arr[i] for i in at] for _, arr in columns]
    else:
        values = [arr[take].tolist() for _, arr in columns]
    out = []
    for row in zip(*values, strict=True):
        rec = {name: _py(v) for (name, _), v in zip(columns, row, strict=True)}
        out.append({k: v for k, v in rec.items() if v is not None})
    return out


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, dropping nulls."""
    names = [str(c) for c in df.columns]
    columns = [df.iloc[:, j].tolist() for j in range(len(names))]  # Python scalars, fast
    out = []
    for values in zip(*columns, strict=True):
        row = {k: _py(v) for k, v in zip(names, values, strict=True)}
        out.append({k: v for k, v in row.items() if v is not None})
    return out
