"""The home hub: reads assigned BLE devices, keeps readings in a durable outbox, uploads them over MQTT."""
