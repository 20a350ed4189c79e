"""Prometheus metrics of one worker, in a registry of its own (no process-wide singletons).

Rates (messages/s, readings/s) are `rate()` of the counters; lag is how old the oldest hub-sent batch of
the last commit was, which grows when workers fall behind (or a hub flushes a backlog).
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ingest.errors import ConfigError


class IngestMetrics:
    """Counters, gauges and histograms of the ingest path; `serve` exposes them over HTTP."""

    def __init__(self, worker_id: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"worker": worker_id}
        r = self.registry
        self.messages = Counter(
            "ingest_messages", "MQTT messages committed", ["worker", "channel"], registry=r
        )
        self.readings = Counter(
            "ingest_readings",
            "Readings committed, by outcome (stored, duplicate, parked)",
            ["worker", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "ingest_dead_letters", "Dead letters written, by category", ["worker", "category"], registry=r
        )
        self.parked_resolved = Counter(
            "ingest_parked_resolved",
            "Parked readings stored once an assignment appeared",
            ["worker"],
            registry=r,
        ).labels(**labels)
        self.db_retries = Counter(
            "ingest_db_retries", "Batch transactions retried, by reason", ["worker", "reason"], registry=r
        )
        self.hook_errors = Counter(
            "ingest_hook_errors", "Commit callbacks that raised", ["worker"], registry=r
        ).labels(**labels)
        self.batch_messages = Histogram(
            "ingest_batch_messages",
            "Messages per committed batch",
            ["worker"],
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000),
            registry=r,
        ).labels(**labels)
        self.batch_readings = Histogram(
            "ingest_batch_readings",
            "Readings per committed batch",
            ["worker"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=r,
        ).labels(**labels)
        self.commit_seconds = Histogram(
            "ingest_commit_seconds",
            "Time to write and commit one batch",
            ["worker"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        ).labels(**labels)
        self.lag_seconds = Gauge(
            "ingest_lag_seconds",
            "Commit time minus the hub's sent_at of the oldest batch just committed",
            ["worker"],
            registry=r,
        ).labels(**labels)
        self.queue_depth = Gauge(
            "ingest_queue_depth", "Messages received and not yet committed", ["worker"], registry=r
        ).labels(**labels)
        self.parked = Gauge(
            "ingest_parked_readings", "Readings waiting for a device assignment", ["worker"], registry=r
        ).labels(**labels)
        self.worker_id = worker_id
        self._server: WSGIServer | None = None

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve the text exposition format on `host:port` (0 picks a free port); returns the port."""
        try:
            server, _thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
