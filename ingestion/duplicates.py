"""Exact duplicates within one file, found while it streams: the first row of a trip_key wins.

`SeenKeys` holds every key of the rows read so far (two uint64 halves and the row that brought
it), as a few sorted runs whose sizes roughly double (an LSM tree in numpy): checking a batch is a
binary search per run, and each key is re-sorted only O(log batches) times, so a 20-million-row file
costs a few seconds and 24 bytes a row.
"""

from __future__ import annotations

import numpy as np


class SeenKeys:
    """The trip_keys of the rows read so far and, for each, its first source_row."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (first, second, row) sorted by key

    def first_rows(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each row: the source_row of an earlier row with the same key, else 0. Then remembers
        this batch's keys. `rows` must be larger than every row seen before (the file's order)."""
        earlier = np.zeros(len(rows), dtype=np.int64)
        order = np.lexsort((rows, second, first))
        f, s, r = first[order], second[order], rows[order]
        same = (f[1:] == f[:-1]) & (s[1:] == s[:-1])
        if same.any():  # repeats inside the batch: each refers to the group's first row
            starts = np.flatnonzero(np.concatenate(([True], ~same)))
            group = np.cumsum(np.concatenate(([True], ~same))) - 1
            firsts = r[starts][group]
            repeat = np.concatenate(([False], same))
            earlier[order[repeat]] = firsts[repeat]
        for run_first, run_second, run_rows in self._runs:
            lo = np.searchsorted(run_first, f, side="left")
            hi = np.searchsorted(run_first, f, side="right")
            for i in np.flatnonzero(hi > lo):  # equal first halves: rare unless a real duplicate
                matches = np.flatnonzero(run_second[lo[i] : hi[i]] == s[i])
                if len(matches):
                    found = int(run_rows[lo[i] + matches[0]])
                    target = order[i]
                    earlier[target] = found if earlier[target] == 0 else min(found, int(earlier[target]))
        new = np.concatenate(([True], ~same))  # one entry per distinct key of the batch
        self._add(f[new], s[new], r[new])
        # a key seen in an earlier batch: its in-batch first row is a duplicate of that too
        if len(self._runs) and earlier.any():
            self._relink(earlier, order, same)
        return earlier

    def _relink(self, earlier: np.ndarray, order: np.ndarray, same: np.ndarray) -> None:
        """Rows repeating a key within the batch point at the earliest row of the key overall."""
        boundaries = np.concatenate(([True], ~same))
        group = np.cumsum(boundaries) - 1
        heads = order[boundaries]
        head_earlier = earlier[heads]
        members = earlier[order]
        oldest = np.where(head_earlier[group] > 0, head_earlier[group], members)
        repeat = ~boundaries
        earlier[order[repeat]] = oldest[repeat]

    def _add(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> None:
        self._runs.append((first, second, rows))
        # merge while the newest run is at least half the size of the one before it
        while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
            (f2, s2, r2), (f1, s1, r1) = self._runs.pop(), self._runs.pop()
            f, s, r = np.concatenate((f1, f2)), np.concatenate((s1, s2)), np.concatenate((r1, r2))
            order = np.lexsort((s, f))
            self._runs.append((f[order], s[order], r[order]))

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)
