"""Simulated devices and homes for tests and demos; never imported by the hub or the cloud services.

``simulators.ble`` serves simulated BLE peripherals to the hub's real bleak code through bleak's
custom-backend hook (``BleakScanner(backend=...)``, ``BleakClient(backend=...)``), so CI needs no radio.
Device models (cuffs, meters, scales) and clinical scenarios build on it.
"""
