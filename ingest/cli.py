"""`rpm ingest run` (a worker) and `rpm ingest resolve-parked` (store parked readings now assigned)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from ingest import config as defaults
from ingest.errors import BrokerUnavailable, ConfigError, DatabaseUnavailable, IngestError
from rpmctl.errors import CommandError


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run one ingest worker until SIGTERM/SIGINT")
    run.add_argument("--worker-id", default="1", help="fixed per worker: its MQTT client id is ingest-<id>")
    run.add_argument("--share-group", default=defaults.DEFAULT_SHARE_GROUP, help="MQTT 5 shared group")
    run.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")
    run.add_argument("--mqtt-url", help="default: RPM_MQTT_URL, else the local stack's svc.ingest account")
    run.add_argument("--max-batch-messages", type=int, default=defaults.DEFAULT_MAX_BATCH_MESSAGES)
    run.add_argument("--max-batch-readings", type=int, default=defaults.DEFAULT_MAX_BATCH_READINGS)
    run.add_argument("--max-delay-ms", type=float, default=defaults.DEFAULT_MAX_DELAY_S * 1000)
    run.add_argument("--receive-maximum", type=int, default=defaults.DEFAULT_RECEIVE_MAXIMUM)
    run.add_argument("--session-expiry-s", type=int, default=defaults.SESSION_EXPIRY_S)
    run.add_argument("--resolve-interval-s", type=float, default=defaults.DEFAULT_RESOLVE_INTERVAL_S)
    run.add_argument(
        "--metrics-port", type=int, default=0, help="Prometheus text format on this port; 0 = off"
    )
    run.add_argument("--metrics-host", default="127.0.0.1", help="address the metrics port listens on")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    resolve = sub.add_parser("resolve-parked", help="store parked readings an assignment now covers")
    resolve.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")


def _urls(args: argparse.Namespace, need_mqtt: bool) -> tuple[str, str]:
    database_url = getattr(args, "database_url", None)
    mqtt_url = getattr(args, "mqtt_url", None)
    if database_url and (mqtt_url or not need_mqtt):
        return database_url, mqtt_url or ""
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    endpoints = resolve(StateLayout.from_environment())
    return database_url or endpoints.database_url, mqtt_url or endpoints.mqtt_url


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "resolve-parked":
            return _resolve(args)
        return _run_worker(args)
    except ConfigError as exc:
        raise CommandError(str(exc), fix="see `rpm ingest run --help`", exit_code=2) from exc
    except BrokerUnavailable as exc:
        raise CommandError(str(exc), fix="start the broker (`rpm services up`) or check --mqtt-url") from exc
    except DatabaseUnavailable as exc:
        raise CommandError(
            str(exc), fix="start the database (`rpm services up`) or check --database-url"
        ) from exc
    except IngestError as exc:
        raise CommandError(str(exc), fix="run `rpm db migrate`, then start the worker again") from exc


def _run_worker(args: argparse.Namespace) -> int:
    from ingest.config import IngestConfig
    from ingest.worker import Worker

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    database_url, mqtt_url = _urls(args, need_mqtt=True)
    config = IngestConfig(
        database_url=database_url,
        mqtt_url=mqtt_url,
        worker_id=args.worker_id,
        share_group=args.share_group,
        session_expiry_s=args.session_expiry_s,
        receive_maximum=args.receive_maximum,
        max_batch_messages=args.max_batch_messages,
        max_batch_readings=args.max_batch_readings,
        max_delay_s=args.max_delay_ms / 1000,
        resolve_interval_s=args.resolve_interval_s,
        metrics_port=args.metrics_port,
    )
    worker = Worker(config)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if config.metrics_port:
        port = worker.metrics.serve(config.metrics_port, args.metrics_host)
        logging.getLogger("ingest").info("metrics on http://%s:%d/metrics", args.metrics_host, port)
    try:
        worker.run()
    finally:
        worker.metrics.close()
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from ingest import db
    from ingest.store import BatchWriter
    from ingest.worker import resolve_all

    database_url, _ = _urls(args, need_mqtt=False)
    with db.connect(database_url, "ingest-resolve-parked") as conn:
        with db.translated_errors():
            writer = BatchWriter(conn)
        resolved = resolve_all(writer)
    print(f"stored {resolved} parked reading(s) for their patients")
    return 0
