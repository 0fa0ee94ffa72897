"""Exact duplicates within one file, found while it streams: the first row of a trip_key wins.

`SeenKeys` holds every key of the rows read so far (two uint64 halves and the row that brought
it), as a few runs sorted by the first half, whose sizes roughly double (an LSM tree in numpy):
checking a batch is a binary search per run, merging two runs is one stable sort of two sorted
halves (linear), and each key is merged O(log batches) times, so a 20-million-row file costs a few
seconds and 24 bytes a row. The first halves are uniformly random, so equal first halves are
(almost only) real duplicates; the second halves decide.
"""

from __future__ import annotations

import numpy as np


def _first_in_batch(
    first: np.ndarray, second: np.ndarray, rows: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(earlier row within the batch or 0, mask of each key's first row in the batch); `order` sorts
    `first` stably (rows ascend within the batch, so equal keys stay in row order)."""
    n = len(rows)
    earlier = np.zeros(n, dtype=np.int64)
    leader = np.ones(n, dtype=bool)
    f = first[order]
    same_first = np.flatnonzero(f[1:] == f[:-1]) + 1
    if not len(same_first):
        return earlier, leader
    # groups of equal first halves (rare unless real duplicates): compare whole keys inside each
    starts = np.flatnonzero(np.concatenate(([True], f[1:] != f[:-1])))
    sizes = np.diff(np.append(starts, n))
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
        members = order[start : start + size]
        firsts: dict[int, int] = {}
        for member in members:
            key = int(second[member])
            if key in firsts:
                earlier[member] = rows[firsts[key]]
                leader[member] = False
            else:
                firsts[key] = member
    return earlier, leader


class SeenKeys:
    """The trip_keys of the rows read so far and, for each, its first source_row."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (first, second, row), sorted by first

    def first_rows(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each row: the source_row of the earliest row with the same key read before it, else 0.
        Then remembers this batch's keys. `rows` must be larger than every row seen before (the
        file's order)."""
        order = np.argsort(first, kind="stable")
        earlier, leader = _first_in_batch(first, second, rows, order)
        needles = first[order]  # sorted: the binary searches walk the runs in order (cache-friendly)
        for run_first, run_second, run_rows in self._runs:
            low = np.searchsorted(run_first, needles, side="left")
            hit = run_first[np.minimum(low, len(run_first) - 1)] == needles
            for k in np.flatnonzero(hit):  # equal first halves: (almost only) real duplicates
                i, start = order[k], low[k]
                end = np.searchsorted(run_first, needles[k], side="right")
                matches = np.flatnonzero(run_second[start:end] == second[i])
                if len(matches):
                    found = int(run_rows[start + matches[0]])
                    earlier[i] = found if earlier[i] == 0 else min(found, int(earlier[i]))
        if not leader.all():  # a repeat inside the batch points at its key's earliest row overall
            earliest = {
                (int(first[i]), int(second[i])): int(earlier[i]) for i in np.flatnonzero(leader & (earlier > 0))
            }
            for i in np.flatnonzero(~leader):
                earlier[i] = earliest.get((int(first[i]), int(second[i])), earlier[i])
        kept = order[leader[order]]  # the batch's distinct keys, already sorted
        self._add(first[kept], second[kept], rows[kept])
        return earlier

    def _add(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> None:
        """Add a run sorted by `first`, then merge runs of similar size."""
        self._runs.append((first, second, rows))
        # merge while the newest run is at least half the size of the one before it
        while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
            (f2, s2, r2), (f1, s1, r1) = self._runs.pop(), self._runs.pop()
            f = np.concatenate((f1, f2))
            order = np.argsort(f, kind="stable")  # two sorted halves: timsort merges them in linear time
            self._runs.append((f[order], np.concatenate((s1, s2))[order], np.concatenate((r1, r2))[order]))

    def __len__(self) -> int:
        return sum(len(run[0]) for run in self._runs)
