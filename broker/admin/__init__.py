"""Broker administration: the PKI, the accounts and ACLs of our Mosquitto, hub provisioning.

Cloud-side only (it needs `cryptography` and the `mosquitto_passwd` tool); hubs never import it.
"""
