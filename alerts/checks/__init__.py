"""Time-based checks run by the ticker of `rpm alerts run`: adherence, devices, escalation, snoozes,
retention. Each runs under its own advisory lock, so several runners never do the same job twice at once."""
