"""Step lines for long operations, so a first-time install shows what it is doing."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Prints `[n] what ...` when a step starts and `done (x s)` when it ends."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._count = 0

    def note(self, message: str) -> None:
        if not self._quiet:
            print(f"    {message}", file=self._stream, flush=True)

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self._count += 1
        started = time.monotonic()
        if not self._quiet:
            print(f"[{self._count}] {what} ...", file=self._stream, flush=True)
        yield
        if not self._quiet:
            elapsed = time.monotonic() - started
            print(f"[{self._count}] {what}: done ({elapsed:.1f} s)", file=self._stream, flush=True)
