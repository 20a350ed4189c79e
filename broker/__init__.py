"""The wire contract between home hubs and the cloud, and the Mosquitto setup it travels through.

Hub and cloud both import the contract, so the modules below depend on pydantic and the standard library
only (no MQTT client, numpy or database driver); importing `broker` itself imports nothing:

- `broker.topics`: the v1 topic scheme `rpm/v1/hubs/{hub_id}/{channel}` and subscription filters.
- `broker.contract`: versioned pydantic models of every payload, `parse_message` and `encode`.
- `broker.units`: canonical units and conversions from device units.
- `broker.plausibility`: physiologically impossible and implausible limits (flag, never clamp).
- `broker.schema_export`: JSON Schema files of the messages (`rpm schema export DIR`).
- `broker.errors`: `ContractError` and its subclasses.
"""
