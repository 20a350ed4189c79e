"""The BLE layer's one exception root.

bleak's errors are translated once, where a bleak call is made (`gatt.py`, `connector.py`, `scanner.py`),
with `raise ... from`; nothing above matches messages.
"""

from __future__ import annotations


class BleError(Exception):
    """Root of every error raised by `gateway.ble` (codec errors have their own root, `CodecError`)."""


class ScanError(BleError):
    """The shared scanner could not start (adapter busy or missing)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"BLE scan failed: {reason}; check that no other program scans on this adapter")


class ConnectError(BleError):
    """Every connection attempt failed."""

    def __init__(self, address: str, attempts: int, reason: str) -> None:
        self.address = address
        self.attempts = attempts
        self.reason = reason
        super().__init__(
            f"could not connect to {address} after {attempts} attempt(s): {reason}; the device may have "
            "stopped advertising (take a new measurement) or be out of range"
        )


class DeviceNotFoundError(ConnectError):
    """The adapter no longer sees the device (it stopped advertising or moved out of range)."""


class PairingError(BleError):
    """Bonding failed: wrong or missing PIN, or the device is not in pairing mode."""

    def __init__(self, address: str, reason: str, hint: str) -> None:
        self.address = address
        self.reason = reason
        self.hint = hint
        super().__init__(f"pairing with {address} failed: {reason}; {hint}")


class LinkLostError(BleError):
    """The link dropped during a GATT operation (the device hung up or went out of range)."""

    def __init__(self, address: str, operation: str) -> None:
        self.address = address
        self.operation = operation
        super().__init__(f"{address}: link lost during {operation}")


class GattError(BleError):
    """A GATT request was refused by the device; `att_code` is the ATT error code when the device sent one."""

    def __init__(self, address: str, operation: str, uuid: str, att_code: int | None, detail: str) -> None:
        self.address = address
        self.operation = operation
        self.uuid = uuid
        self.att_code = att_code
        code = f" (ATT {att_code:#04x})" if att_code is not None else ""
        super().__init__(f"{address}: {operation} {uuid} failed{code}: {detail}")


class MissingCharacteristicError(BleError):
    """The profile names a characteristic the device does not have: wrong profile for this device."""

    def __init__(self, address: str, uuid: str, profile_id: str) -> None:
        self.address = address
        self.uuid = uuid
        self.profile_id = profile_id
        super().__init__(
            f"{address} has no characteristic {uuid} that profile {profile_id!r} needs; "
            "assign the right profile"
        )


class RacpError(BleError):
    """A stored-records transfer did not complete (the meter's response code, or a timeout)."""

    def __init__(self, address: str, reason: str, response_code: int | None = None) -> None:
        self.address = address
        self.reason = reason
        self.response_code = response_code
        super().__init__(f"{address}: stored-record transfer failed: {reason}")


class RacpTimeoutError(RacpError):
    """The meter stopped answering mid-transfer; the hub sent an abort."""
