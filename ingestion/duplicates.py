"""Exact duplicates within one file, found while it streams: the first row of a trip_key wins.

`SeenKeys` holds every key of the rows read so far (two uint64 halves and the row that brought it),
one run per batch sorted by the first half, and a Bloom filter over them (two bits per key, about
32 bits per expected row, set from the halves' low bits): a key the filter has not seen is new, and
only the others (real repeats, and about 0.4% false alarms) are looked up in the runs, by binary
search. So a batch costs one sort and two bit probes per row, whatever the rows before it; the runs
are never merged (a 20,000,000-row file: ~3 s instead of ~10 s with runs merged as they grew, which
cost a binary search of every row in every run). Memory: 24 bytes a row plus the filter's 4.
The halves are uniformly random, so equal first halves are (almost only) real duplicates; the
second halves decide.
"""

from __future__ import annotations

import numpy as np

BLOOM_BITS_PER_ROW = 32
_MIN_BITS, _MAX_BITS = 1 << 16, 1 << 31
_3, _7 = np.uint64(3), np.uint64(7)


class _Bloom:
    """Two probes per key (the low bits of each half) in a bit array; no false negatives."""

    def __init__(self, expected_rows: int) -> None:
        bits = _MIN_BITS
        while bits < expected_rows * BLOOM_BITS_PER_ROW and bits < _MAX_BITS:
            bits <<= 1
        self._mask = np.uint64(bits - 1)
        self._bytes = np.zeros(bits // 8, dtype=np.uint8)

    def _probes(self, first: np.ndarray, second: np.ndarray):
        for half in (first, second):
            index = half & self._mask
            yield (index >> _3).astype(np.intp), np.left_shift(1, (index & _7).astype(np.uint8), dtype=np.uint8)

    def may_contain(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        seen = np.ones(len(first), dtype=bool)
        for byte, bit in self._probes(first, second):
            seen &= (self._bytes[byte] & bit) != 0
        return seen

    def add(self, first: np.ndarray, second: np.ndarray) -> None:
        for byte, bit in self._probes(first, second):
            while len(byte):  # two keys on one byte in one assignment: the last write wins; set the others again
                self._bytes[byte] |= bit
                missing = (self._bytes[byte] & bit) == 0
                byte, bit = byte[missing], bit[missing]


def _first_in_batch(
    first: np.ndarray, second: np.ndarray, rows: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(earlier row within the batch or 0, mask of each key's first row in the batch); `order` sorts
    `first` stably (rows ascend within the batch, so equal keys stay in row order)."""
    n = len(rows)
    earlier = np.zeros(n, dtype=np.int64)
    leader = np.ones(n, dtype=bool)
    f = first[order]
    starts = np.concatenate(([True], f[1:] != f[:-1]))
    if starts.all():
        return earlier, leader
    # groups of equal first halves (rare unless real duplicates): each member whose second half is
    # its group's first one repeats that row; groups that also hold other second halves (two keys
    # sharing a first half) are sorted out one by one
    group = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    s = second[order]
    mixed = np.zeros(n, dtype=bool)
    mixed[group[s != s[group]]] = True
    repeat = ~starts & ~mixed[group]
    earlier[order[repeat]] = rows[order[group[repeat]]]
    leader[order[repeat]] = False
    for start in np.flatnonzero(mixed):
        end = start + 1
        while end < n and group[end] == start:
            end += 1
        firsts: dict[int, int] = {}
        for member in order[start:end]:
            key = int(second[member])
            if key in firsts:
                earlier[member] = rows[firsts[key]]
                leader[member] = False
            else:
                firsts[key] = member
    return earlier, leader


class SeenKeys:
    """The trip_keys of the rows read so far and, for each, its first source_row."""

    def __init__(self, expected_rows: int = 1_000_000) -> None:
        self._bloom = _Bloom(expected_rows)
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (first, second, row), sorted by first
        self._count = 0

    def first_rows(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each row: the source_row of the earliest row with the same key read before it, else 0.
        Then remembers this batch's keys. `rows` must be larger than every row seen before (the
        file's order)."""
        order = np.argsort(first, kind="stable")
        earlier, leader = _first_in_batch(first, second, rows, order)
        maybe = np.flatnonzero(self._bloom.may_contain(first, second)) if self._runs else np.empty(0, np.intp)
        if len(maybe):
            maybe = maybe[np.argsort(first[maybe], kind="stable")]
            needles = first[maybe]  # sorted: the binary searches walk the runs in order
            for run_first, run_second, run_rows in self._runs:
                low = np.searchsorted(run_first, needles, side="left")
                hit = np.flatnonzero(run_first[np.minimum(low, len(run_first) - 1)] == needles)
                if not len(hit):
                    continue
                # equal first halves: (almost only) the same key, whose entry in the run is then the
                # first of that first half (a run holds each key of its batch once)
                at, rows_hit = low[hit], maybe[hit]
                same = run_second[at] == second[rows_hit]
                found = np.where(same, run_rows[at], 0)
                for k in np.flatnonzero(~same):  # another key shares the first half: look further
                    end = np.searchsorted(run_first, needles[hit[k]], side="right")
                    matches = np.flatnonzero(run_second[at[k] : end] == second[rows_hit[k]])
                    if len(matches):
                        found[k] = run_rows[at[k] + matches[0]]
                now = earlier[rows_hit]
                earlier[rows_hit] = np.where((found > 0) & ((now == 0) | (found < now)), found, now)
        if not leader.all():  # a repeat inside the batch points at its key's earliest row overall
            heads = np.flatnonzero(~leader)
            leaders = order[np.searchsorted(first[order], first[heads], side="left")]
            plain = second[leaders] == second[heads]
            lead_row = earlier[leaders]
            earlier[heads] = np.where(plain & (lead_row > 0), lead_row, earlier[heads])
            if not plain.all():
                earliest = {
                    (int(first[i]), int(second[i])): int(earlier[i]) for i in np.flatnonzero(leader & (earlier > 0))
                }
                for i in heads[~plain]:
                    earlier[i] = earliest.get((int(first[i]), int(second[i])), earlier[i])
        kept = order[leader[order]]  # the batch's distinct keys, already sorted
        self._runs.append((first[kept], second[kept], rows[kept]))
        self._bloom.add(first[kept], second[kept])
        self._count += len(kept)
        return earlier

    def __len__(self) -> int:
        return self._count
