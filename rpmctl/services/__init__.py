"""The local service stack: a real Mosquitto and a real TimescaleDB on loopback ports of our own.

Used by development, CI and `make demo`. When `RPM_DATABASE_URL` / `RPM_MQTT_URL` name existing
servers, nothing is installed or started for that service.
"""
