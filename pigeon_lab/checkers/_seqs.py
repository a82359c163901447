"""Dense seq ranges per channel, and the outlier search that keeps them small.

A correct history's seqs are dense per channel; a few absurd ones (a corrupt or hostile
server) must not blow the dense slot arrays up, nor crash the checkers: they are found
here and set aside by ``_prep`` for the ``order`` checker to report.
"""

from __future__ import annotations

import numpy as np

I64 = np.int64
CLUSTER_GAPS = (4096, 1)  # outlier search: a channel's seqs split where they jump by more


def ranges(
    nchan: int, chan: np.ndarray, seq: np.ndarray, f_chan: np.ndarray, f_seq: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the lowest and highest seq (lo = 0, hi = -1 for a channel without any)."""
    lo = np.full(nchan, np.iinfo(I64).max, I64)
    hi = np.full(nchan, -1, I64)
    for c, s in ((chan, seq), (f_chan, f_seq)):
        np.minimum.at(lo, c, s)
        np.maximum.at(hi, c, s)
    lo = np.where(hi >= 0, lo, 0)
    return lo, hi


def main_runs(chan: np.ndarray, seq: np.ndarray, budget: int, nchan: int) -> np.ndarray:
    """Mask of the (channel, seq) values in their channel's main run of seqs.

    A correct history's seqs are dense per channel; split each channel's sorted seqs where
    they jump by more than a gap and keep the run with the most rows. With a gap of 1 the
    kept runs hold at most one slot per row, so the budget is always met.
    """
    o = np.lexsort((seq, chan))
    c, s = chan[o], seq[o]
    keep = np.ones(len(o), bool)
    for gap in CLUSTER_GAPS:
        new = np.r_[True, (c[1:] != c[:-1]) | (s[1:] - s[:-1] > gap)] if len(c) else c > 0
        run = np.cumsum(new) - 1
        size = np.bincount(run)
        run_chan = c[new]
        best = np.zeros(len(size), bool)
        by = np.lexsort((-size, run_chan))
        best[by[np.r_[True, run_chan[by][1:] != run_chan[by][:-1]]]] = True
        keep = best[run]
        lo, hi = ranges(nchan, c[keep], s[keep], c[:0], s[:0])
        if int((hi - lo + 1).sum()) <= budget:
            break
    out = np.empty(len(o), bool)
    out[o] = keep
    return out
