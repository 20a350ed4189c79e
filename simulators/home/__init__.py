"""Simulated homes: the real hub process with simulated BLE devices (`rpm sim home`)."""

from simulators.home.home import Home, HomeOptions, write_request
from simulators.home.memory import HomeMemory, load_memory
from simulators.home.spec import HomeSpec, Measurement, load_spec

__all__ = [
    "Home",
    "HomeMemory",
    "HomeOptions",
    "HomeSpec",
    "Measurement",
    "load_memory",
    "load_spec",
    "write_request",
]
