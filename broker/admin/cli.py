"""`rpm broker init | add-hub | revoke-hub | hubs`: provisioning of the project's Mosquitto."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, help="the local stack's state directory (RPM_STATE_DIR)")
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="create the CA, the broker's certificate and the service accounts")
    init.add_argument(
        "--host", action="append", default=[], help="extra DNS name or IP of the broker (repeat)"
    )
    init.add_argument(
        "--ca-cert", type=Path, help="use this existing CA certificate (PEM) instead of a new one"
    )
    init.add_argument("--ca-key", type=Path, help="the existing CA's private key (PEM, EC)")
    add = sub.add_parser("add-hub", help="issue a hub's credentials and write its config bundle")
    add.add_argument("hub_id")
    add.add_argument("--out", type=Path, help="where to write the bundle (default: STATE_DIR/hubs)")
    add.add_argument("--broker-url", help="the URL hubs connect to (default: this broker's TLS listener)")
    add.add_argument(
        "--days", type=int, default=730, help="client certificate validity in days (default 730)"
    )
    revoke = sub.add_parser("revoke-hub", help="refuse a hub from now on (no broker restart)")
    revoke.add_argument("hub_id")
    sub.add_parser("hubs", help="list provisioned hubs")


def run(args: argparse.Namespace) -> int:
    import datetime as dt

    from broker.admin import pki
    from broker.admin.accounts import ProvisioningError
    from broker.errors import ContractError
    from rpmctl.errors import CommandError
    from rpmctl.services.layout import StateLayout
    from rpmctl.services.mosquitto import LocalMosquitto
    from rpmctl.services.progress import Progress

    layout = StateLayout.from_environment(args.state_dir)
    mosquitto = LocalMosquitto(layout, Progress())
    admin = mosquitto.admin()
    try:
        if args.action == "init":
            ca = None
            if args.ca_cert or args.ca_key:
                if not (args.ca_cert and args.ca_key):
                    raise CommandError("--ca-cert and --ca-key go together", exit_code=2)
                ca = pki.CertificateAuthority.load(args.ca_cert, args.ca_key)
            changed = admin.init(hostnames=tuple(args.host), ca=ca)
            outcome = "created" if changed else "already in place"
            print(f"broker PKI and service accounts {outcome} in {admin.files.root}")
            print(f"CA certificate for hubs: {admin.files.ca_cert}")
            return 0
        if not admin.files.ca_cert.exists():
            raise CommandError(
                "the broker is not initialised", fix="run `rpm broker init` (or `rpm services up`)"
            )
        if args.action == "add-hub":
            url = args.broker_url or f"mqtts://127.0.0.1:{layout.mqtts_port}"
            bundle = admin.add_hub(
                args.hub_id,
                broker_url=url,
                out_dir=args.out or layout.state_dir / "hubs",
                validity=dt.timedelta(days=args.days),
            )
            print(
                f"hub {bundle.hub_id}: config {bundle.config_file} (certificate valid until "
                f"{bundle.cert_not_after:%Y-%m-%d})"
            )
            print(f"copy {bundle.directory} to the hub and run: rpm hub run --config hub.toml")
            return 0
        if args.action == "revoke-hub":
            admin.revoke_hub(args.hub_id)
            print(f"hub {args.hub_id} revoked: its connection is closed and new ones are refused")
            return 0
        for hub_id, entry in sorted(admin.hubs().items()):
            state = f"revoked {entry['revoked_at']}" if entry.get("revoked_at") else "active"
            print(f"{hub_id}\t{state}\tcertificate until {entry.get('cert_not_after')}", file=sys.stdout)
        return 0
    except ProvisioningError as exc:
        raise CommandError(str(exc), fix=exc.fix, exit_code=2) from exc
    except (ContractError, pki.PkiError) as exc:
        raise CommandError(str(exc), exit_code=2) from exc
