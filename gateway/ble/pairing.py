"""Bonding: where a PIN comes from, and the OS agent that hands it to the Bluetooth stack.

bleak has no pairing-agent API: on Linux the PIN is requested by BlueZ from a registered `org.bluez.Agent1`
(`RequestPasskey(device) -> uint32`). The hub therefore has two parts: a `PasskeyProvider` (its config or an
operator prompt: address -> PIN) and a `PairingAgent` that exposes the provider to the OS. The BlueZ agent is
a D-Bus service that needs a running BlueZ and cannot be built or tested here; the simulator's agent hook
(`SimulatedAir.agent`) plays its part in tests. `BleakClient(pair=True)` then triggers the pairing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from firmware_profiles import BondingMode, Profile

PasskeyProvider = Callable[[str], Awaitable[int | None]]
"""Given a device address, the 6-digit PIN the device shows, or None to cancel pairing."""


class PairingAgent(Protocol):
    """Registers a `PasskeyProvider` with the OS Bluetooth stack (BlueZ: an `org.bluez.Agent1` object with
    capability "KeyboardOnly", registered via `AgentManager1.RegisterAgent` and made the default)."""

    async def register(self, provider: PasskeyProvider) -> None: ...

    async def unregister(self) -> None: ...


class PasskeyBook:
    """PINs from the hub's config, by address; unknown devices are asked of `ask` (an operator), if given."""

    def __init__(self, pins: Mapping[str, int] | None = None, ask: PasskeyProvider | None = None) -> None:
        self._pins = {address.upper(): pin for address, pin in (pins or {}).items()}
        self._ask = ask
        self.requests: list[str] = []
        """Addresses the stack asked a PIN for, in order (for status and tests)."""

    def set(self, address: str, pin: int) -> None:
        if not 0 <= pin <= 999_999:
            raise ValueError("a passkey is a 6-digit number")
        self._pins[address.upper()] = pin

    async def __call__(self, address: str) -> int | None:
        self.requests.append(address.upper())
        pin = self._pins.get(address.upper())
        if pin is None and self._ask is not None:
            pin = await self._ask(address)
        return pin


def needs_pairing(profile: Profile) -> bool:
    return profile.bonding.mode is not BondingMode.NONE


def pairing_hint(profile: Profile) -> str:
    """What an operator should do when pairing with this model fails."""
    hints = []
    if profile.bonding.mode is BondingMode.PASSKEY:
        hints.append("enter the PIN the device shows into the hub's passkey config")
    if profile.bonding.pairable_only_with_records:
        hints.append("take a measurement first: the device pairs only once it holds a record")
    hints.append("put the device in pairing mode and retry")
    return "; ".join(hints)
