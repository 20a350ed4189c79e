"""Operator tooling for rpm-gateway: the `rpm` command and the local service stack.

It sits outside the product packages because it serves all of them: it starts the
real Mosquitto and TimescaleDB used by development, CI and the demo, and it wires the
subcommands of every package into one console script.
"""
