"""The codec's one exception root; decoders raise exactly `DecodeError`, encoders exactly `EncodeError`.

Callers (the hub, the `rpm decode` CLI, the simulators) catch one type per direction and never match on
message text: the offending characteristic, byte offset and field travel as attributes.
"""

from __future__ import annotations


class CodecError(ValueError):
    """Root of every error raised by `gateway.ble.codec`."""


class DecodeError(CodecError):
    """The bytes do not form a valid value of the characteristic (truncated, out of range, bad UTF-8...).

    The message reads `0x2A35: expected 2 bytes for diastolic at offset 3, got 1` so that a decode-error event
    published with the raw bytes can be diagnosed without re-running the decoder.
    """

    def __init__(self, characteristic: str, reason: str, *, offset: int, field: str | None = None) -> None:
        super().__init__(f"{characteristic}: {reason}")
        self.characteristic = characteristic
        self.reason = reason
        self.offset = offset
        self.field = field


class EncodeError(CodecError):
    """A value cannot be expressed in the characteristic's wire format (out of range, inconsistent fields)."""


class UnknownCharacteristicError(CodecError):
    """The UUID is not one the codec knows; the fix is to add a decoder module, not to guess a layout."""
