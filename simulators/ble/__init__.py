"""Simulated BLE peripherals served to the hub's real bleak code through bleak's custom-backend hook.

Typical wiring::

    async with SimulatedAir() as air:
        air.add(SimulatedPeripheral("C0:00:00:00:00:01", "Cuff", services=[...]))
        device = await BleakScanner.find_device_by_name("Cuff", backend=air.scanner_backend)
        async with BleakClient(device, backend=air.client_backend) as client:
            ...
"""

from simulators.ble.backend import SimulatedClientBackend, SimulatedDeviceDetails, SimulatedScannerBackend
from simulators.ble.faults import Faults
from simulators.ble.gatt import AttError, SimCharacteristic, SimDescriptor, SimService, normalize_uuid
from simulators.ble.link import Link
from simulators.ble.peripheral import SimulatedPeripheral
from simulators.ble.world import PasskeyAgent, SimClock, SimulatedAir, make_backends

__all__ = [
    "AttError",
    "Faults",
    "Link",
    "PasskeyAgent",
    "SimCharacteristic",
    "SimClock",
    "SimDescriptor",
    "SimService",
    "SimulatedAir",
    "SimulatedClientBackend",
    "SimulatedDeviceDetails",
    "SimulatedPeripheral",
    "SimulatedScannerBackend",
    "make_backends",
    "normalize_uuid",
]
