"""What the quiescent read-back says of each channel: complete, truncated, its head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pigeon_lab.checkers._prep import Prepared

I64 = np.int64


@dataclass
class Readback:
    """Per channel id: whether the read-back covers it completely, and what it said."""

    decidable: np.ndarray  # final log of this channel is known to be complete
    truncated: np.ndarray
    head: np.ndarray  # -1 when unknown


def readback(p: Prepared) -> Readback:
    """Read-back state per channel; without a read-back table the final log is trusted."""
    nchan = len(p.chan_ws)
    if p.ctx.final_log is None:
        return Readback(np.zeros(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64))
    rb = p.ctx.readback
    if rb is None:
        return Readback(np.ones(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64))
    ids = {p.chan_label(c): c for c in range(nchan)}
    dec, trunc, head = np.zeros(nchan, bool), np.zeros(nchan, bool), np.full(nchan, -1, I64)
    for ws, ch, hs, complete, truncated in zip(
        rb["workspace"],
        rb["channel"],
        rb["head_seq"],
        rb["complete"],
        rb["truncated"],
        strict=True,
    ):
        c = ids.get((None if pd.isna(ws) else str(ws), str(ch)))
        if c is None:
            continue
        dec[c] = bool(complete)
        trunc[c] = bool(truncated)
        head[c] = -1 if pd.isna(hs) else int(hs)
    return Readback(dec, trunc, head)
