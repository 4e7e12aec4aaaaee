"""Progress bars for long work: shown when a person is watching, never under tests or pipes."""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def interactive() -> bool:
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ and not os.environ.get("CI")


def progress(items: Iterable[T], total: int, desc: str, show: bool | None = None, min_total: int = 20) -> Iterator[T]:
    """Wrap items in a tqdm bar when `show` (default: interactive and at least `min_total` items)."""
    if show is None:
        show = interactive() and total >= min_total
    if not show:
        return iter(items)
    from tqdm.auto import tqdm
    return iter(tqdm(items, total=total, desc=desc, leave=False))
