"""The care-team API and web console: alert queues, vitals trends, time logs, billing reports."""
