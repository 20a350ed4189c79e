"""BLE side of the hub: finding assigned devices, talking GATT through bleak, and turning bytes into readings.

`gateway.ble.codec` holds the pure SIG-profile decoders and encoders (no I/O, no bleak), shared by the hub,
the simulators and the `rpm decode` command (`gateway.ble.cli`); transport code lives beside it and never
parses bytes itself.
"""
