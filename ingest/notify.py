"""The `readings_committed` notification: which (patient, kind) pairs a committed transaction touched.

Payload (version 1): `{"v": 1, "pairs": [["<patient uuid>", "<kind>"], ...]}`. PostgreSQL refuses a NOTIFY
payload of 8,000 bytes or more, so a large set is split into several notifications of the same shape; a
listener treats each as "evaluate these pairs". A pair may appear in more than one notification.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

CHANNEL = "readings_committed"
PAYLOAD_VERSION = 1
MAX_PAYLOAD_BYTES = 7900
"""Under PostgreSQL's 8,000-byte NOTIFY limit with room to spare."""


def _encode(pairs: list[tuple[str, str]]) -> str:
    return json.dumps({"v": PAYLOAD_VERSION, "pairs": pairs}, separators=(",", ":"))


def _item_size(pair: tuple[str, str]) -> int:
    """Encoded size of one pair plus its separating comma, without encoding it.

    Patient ids are UUID text and kinds are snake_case, which JSON writes unescaped: `["<p>","<k>"],` is
    the two lengths plus 8 punctuation bytes. Anything else is measured by encoding it."""
    text = pair[0] + pair[1]
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 8
    return len(json.dumps(list(pair), separators=(",", ":")).encode()) + 1


def payloads(pairs: Iterable[tuple[str, str]], limit: int = MAX_PAYLOAD_BYTES) -> Iterator[str]:
    """Sorted pairs as JSON payloads, each shorter than `limit` bytes."""
    chunk: list[tuple[str, str]] = []
    empty = len(_encode([]))
    size = empty
    for pair in sorted(set(pairs)):
        item = _item_size(pair)
        if chunk and size + item >= limit:
            yield _encode(chunk)
            chunk, size = [], empty
        chunk.append(pair)
        size += item
    if chunk:
        yield _encode(chunk)


def parse(payload: str) -> list[tuple[str, str]]:
    """The pairs of one notification (for listeners such as the alert engine and the tests)."""
    document = json.loads(payload)
    if document.get("v") != PAYLOAD_VERSION:
        raise ValueError(f"unknown readings_committed payload version {document.get('v')!r}")
    return [(str(patient), str(kind)) for patient, kind in document["pairs"]]
