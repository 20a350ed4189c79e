"""The alert engine: rules request alerts, the lifecycle decides.

Rules (`alerts.rules`) are small: a pydantic parameters model and a vectorized evaluate function over the
recent readings of many patients at once. The engine (`alerts.engine`) turns their findings into verdicts per
(patient, rule); the lifecycle (`alerts.lifecycle`) keeps one active alert per (patient, rule), attaches new
evidence, auto-resolves what recovered and records every change as an event. Time-based checks
(`alerts.checks`) run from `rpm alerts run`; care managers work the queues through `alerts.service`.
"""
