"""`rpm decode CHARACTERISTIC HEX...`: decode a captured characteristic value and print one JSON object.

For field support: paste what nRF Connect, Wireshark or a hub's decode-error event showed, in whatever hex
spelling it used. Bad input prints one line on stderr and exits 2, so scripts can tell it from a crash.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Final

from gateway.ble.codec.errors import CodecError
from gateway.ble.codec.fields import canonical_fields
from gateway.ble.codec.registry import lookup

EXIT_BAD_INPUT: Final = 2

_SEPARATORS: Final = re.compile(r"[\s:,;_\-]+")
_HEX_DIGITS: Final = re.compile(r"[0-9a-fA-F]*")


class HexError(ValueError):
    """The HEX argument is not hex; the message says which token."""


def parse_hex(words: list[str]) -> bytes:
    """Bytes from forgiving hex: `0x` prefixes per byte or whole, spaces, colons, dashes, any case.

    A one-digit token with `0x` or between separators (`0x1`, `1 2`) is one byte; a lone run of digits must
    be even, since `078` could mean `00 78` or `07 08`.
    """
    tokens = [token for word in words for token in _SEPARATORS.split(word) if token]
    if not tokens:
        raise HexError("no hex digits given")
    digits = []
    for token in tokens:
        prefixed = token[:2].lower() == "0x"
        body = token[2:] if prefixed else token
        if not body or not _HEX_DIGITS.fullmatch(body):
            raise HexError(f"{token!r} is not hex")
        if len(body) % 2:
            if len(body) == 1 and (prefixed or len(tokens) > 1):
                body = "0" + body
            else:
                raise HexError(f"{token!r} has an odd number of hex digits")
        digits.append(body)
    return bytes.fromhex("".join(digits))


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of `rpm decode`."""
    parser.add_argument(
        "characteristic", help="characteristic UUID: 2A35, 0x2A35 or 00002a35-0000-1000-8000-00805f9b34fb"
    )
    parser.add_argument(
        "hex", nargs="+", help="the value as hex; spaces, colons, dashes and 0x prefixes are accepted"
    )
    parser.add_argument("--indent", type=int, default=None, help="pretty-print the JSON with this indent")


def run(args: argparse.Namespace) -> int:
    """Print the decoded value as one JSON object; one stderr line and exit 2 on bad input."""
    try:
        characteristic = lookup(args.characteristic)
        data = parse_hex(args.hex)
        value = characteristic.decode(data)
    except (CodecError, HexError) as exc:
        print(f"rpm decode: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(canonical_fields(characteristic, value), indent=args.indent, ensure_ascii=False))
    return 0
