"""The alert engine: vectorized threshold and trend rules, alert lifecycle and care-manager queues."""
