"""os.environ for the length of a block, then exactly as it was."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def environment(values: Mapping[str, str], *, replace: bool = False) -> Iterator[None]:
    """os.environ with `values` set for the block (`replace`: exactly `values`, as a subprocess started
    with env= would see), then restored whole."""
    saved = dict(os.environ)
    if replace:
        os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
