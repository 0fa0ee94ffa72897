"""`SeenKeys` against a plain dictionary: every row's earliest earlier row with the same key, batch by
batch, including keys that share a first half and a Bloom filter far too small (false alarms)."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.duplicates import SeenKeys


def _reference(first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> np.ndarray:
    earliest: dict[tuple[int, int], int] = {}
    out = np.zeros(len(rows), dtype=np.int64)
    for i, key in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
        if key in earliest:
            out[i] = earliest[key]
        else:
            earliest[key] = int(rows[i])
    return out


@pytest.mark.parametrize("seed", range(40))
def test_seen_keys_finds_the_earliest_row_of_every_repeated_key(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4000))
    pool = int(rng.integers(1, n + 1))  # few distinct keys: many repeats, inside and across batches
    firsts = rng.integers(0, 2**64, pool, dtype=np.uint64, endpoint=False)
    seconds = rng.integers(0, 2**64, pool, dtype=np.uint64, endpoint=False)
    firsts[rng.random(pool) < 0.2] = firsts[0]  # distinct keys sharing a first half
    pick = rng.integers(0, pool, n)
    first, second = firsts[pick], seconds[pick]
    rows = np.cumsum(rng.integers(1, 4, n)).astype(np.int64)  # ascending, with gaps
    expected_rows = int(rng.choice([1, n, 10 * n]))  # 1: the filter says "maybe" to almost everything
    seen, batch = SeenKeys(expected_rows), int(rng.integers(1, 600))
    found = [
        seen.first_rows(first[i : i + batch], second[i : i + batch], rows[i : i + batch]) for i in range(0, n, batch)
    ]
    assert np.array_equal(np.concatenate(found), _reference(first, second, rows))
