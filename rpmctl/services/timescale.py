"""The local TimescaleDB: PostgreSQL 17 with the Apache-edition `timescaledb` extension.

Debian 13 ships `postgresql-17-timescaledb`; it is installed on the host directly. On Debian 12
the same package is installed into a Debian 13 root made with `mmdebstrap`, and PostgreSQL runs
inside it with `chroot` on a loopback port (the host reaches it over TCP like any server).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rpmctl.errors import CommandError
from rpmctl.services import system
from rpmctl.services.layout import StateLayout
from rpmctl.services.progress import Progress

if TYPE_CHECKING:
    import psycopg

PG_MAJOR = 17
PG_BIN = f"/usr/lib/postgresql/{PG_MAJOR}/bin"
TIMESCALE_PACKAGE = f"postgresql-{PG_MAJOR}-timescaledb"
DEBIAN_MIRROR = os.environ.get("RPM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Measured: the trixie root with PostgreSQL 17 and TimescaleDB is ~550 MiB; leave headroom.
ROOT_DISK_NEEDED = 1_200 * 2**20
# pg_ctl waits this long for a start; crash recovery after kill -9 of a busy server can take a while.
START_TIMEOUT_S = 120
APP_ROLE = "rpm"
APP_DATABASE = "rpm"
SUPERUSER = "postgres"
READY_MARKER = ".rpm-gateway-root-ready"


@dataclass(frozen=True)
class TimescaleStatus:
    running: bool
    port: int
    mode: str
    server_version: str | None
    timescaledb_version: str | None
    license: str | None
    detail: str


class LocalTimescale:
    """Install, start, stop and inspect the local TimescaleDB for one state directory."""

    def __init__(self, layout: StateLayout, progress: Progress) -> None:
        self.layout = layout
        self.progress = progress
        self.dir = layout.timescaledb_dir
        self.chroot_dir = self.dir / "root"

    # --- where things are -------------------------------------------------------------------
    def _uses_chroot(self) -> bool:
        if (self.chroot_dir / READY_MARKER).exists():
            return True
        return not _host_has_timescaledb() and system.debian_major() != 13

    def _inside(self, *parts: str) -> str:
        """A path as PostgreSQL sees it (inside the chroot when there is one)."""
        if self._uses_chroot():
            return "/" + "/".join(("var", "lib", "rpm-gateway", *parts))
        return str(self.dir.joinpath(*parts))

    def _host(self, inside: str) -> Path:
        return self.chroot_dir / inside.lstrip("/") if self._uses_chroot() else Path(inside)

    @property
    def data_inside(self) -> str:
        return self._inside("pgdata")

    @property
    def socket_inside(self) -> str:
        return self._inside("run")

    @property
    def log_inside(self) -> str:
        return self._inside("postgresql.log")

    def _pg(self, tool: str, *args: str) -> list[str]:
        """Command line running a PostgreSQL tool as the right user in the right root."""
        argv = [f"{PG_BIN}/{tool}", *args]
        if system.is_root():
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        if self._uses_chroot():
            argv = ["chroot", str(self.chroot_dir), *argv]
        return argv

    # --- install ------------------------------------------------------------------------------
    def ensure_installed(self) -> None:
        if self._uses_chroot():
            self._ensure_chroot()
        elif not _host_has_timescaledb():
            _prevent_default_cluster(Path("/"))
            system.apt_install([TIMESCALE_PACKAGE], self.progress)

    def _ensure_chroot(self) -> None:
        if (self.chroot_dir / READY_MARKER).exists():
            return
        if system.debian_major() is None:
            raise CommandError(
                "TimescaleDB can be installed automatically on Debian 12 or 13 only",
                fix="set RPM_DATABASE_URL to a PostgreSQL with the timescaledb extension",
            )
        if not system.is_root():
            raise CommandError(
                "building the TimescaleDB root (mmdebstrap + chroot) needs root",
                fix="run `sudo rpm services up` once, or set RPM_DATABASE_URL",
            )
        system.apt_install(["mmdebstrap"], self.progress)
        self.dir.mkdir(parents=True, exist_ok=True)
        system.require_free_space(self.dir, ROOT_DISK_NEEDED, "the TimescaleDB root")
        partial = self.dir / "root.partial"
        if partial.exists():
            shutil.rmtree(partial)
        hook = (
            'mkdir -p "$1/etc/postgresql-common/createcluster.d" && '
            'echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/rpm-gateway.conf"'
        )
        with self.progress.step(f"building a Debian 13 root with {TIMESCALE_PACKAGE} (about a minute)"):
            system.run(
                [
                    "mmdebstrap",
                    "--variant=apt",
                    f"--include={TIMESCALE_PACKAGE}",
                    f"--essential-hook={hook}",
                    "--dpkgopt=path-exclude=/usr/share/man/*",
                    "--dpkgopt=path-exclude=/usr/share/doc/*",
                    "--dpkgopt=path-exclude=/usr/share/locale/*",
                    "trixie",
                    str(partial),
                    DEBIAN_MIRROR,
                ],
                what="mmdebstrap",
                fix="check that the Debian mirror is reachable (RPM_DEBIAN_MIRROR) and the disk has space",
                on_line=lambda line: self.progress.note(line) if line.startswith("I:") else None,
            )
            (partial / READY_MARKER).write_text(f"{TIMESCALE_PACKAGE}\n")
            partial.rename(self.chroot_dir)

    # --- data directory -------------------------------------------------------------------------
    def _ensure_cluster(self) -> None:
        data = self._host(self.data_inside)
        if (data / "PG_VERSION").exists():
            return
        base = self._host(self._inside())
        base.mkdir(parents=True, exist_ok=True)
        superuser_password = system.read_or_create_secret(self.layout.secrets_dir / "db-superuser.password")
        pwfile_inside = self._inside("initdb.pw")
        pwfile = self._host(pwfile_inside)
        pwfile.write_text(superuser_password + "\n")
        self._own(base)
        self._own(pwfile)
        try:
            with self.progress.step("creating the database cluster (initdb)"):
                system.run(
                    self._pg(
                        "initdb",
                        "-D",
                        self.data_inside,
                        "-U",
                        SUPERUSER,
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        f"--pwfile={pwfile_inside}",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ),
                    what="initdb",
                )
        finally:
            pwfile.unlink(missing_ok=True)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'rpm-gateway.conf'\n")

    def _own(self, path: Path) -> None:
        """As root, hand a path to the `postgres` user (as numbered inside the root)."""
        if not system.is_root():
            return
        uid, gid = self._postgres_ids()
        os.chown(path, uid, gid)
        os.chmod(path, 0o700 if path.is_dir() else 0o600)

    def _postgres_ids(self) -> tuple[int, int]:
        passwd = (self.chroot_dir / "etc/passwd") if self._uses_chroot() else Path("/etc/passwd")
        for line in passwd.read_text().splitlines():
            fields = line.split(":")
            if fields[0] == SUPERUSER:
                return int(fields[2]), int(fields[3])
        raise CommandError(f"no `{SUPERUSER}` user in {passwd}", fix=f"reinstall {TIMESCALE_PACKAGE}")

    def _write_settings(self) -> None:
        settings = {
            "port": str(self.layout.db_port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_inside}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            # No background workers: the Apache edition has no jobs for them to run (our own ticker does
            # retention), and a worker, connected as the superuser, would stop the app role from dropping a
            # database WITH (FORCE), which the tests do with their scratch databases.
            "timescaledb.max_background_workers": "0",
            "max_connections": "200",
            "shared_buffers": "'512MB'",
            "log_min_messages": "warning",
            "log_timezone": "'UTC'",
            "timezone": "'UTC'",
        }
        lines = ["# Written by `rpm services up` on every start; edit the code, not this file."]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        path = self._host(self.data_inside) / "rpm-gateway.conf"
        path.write_text("\n".join(lines) + "\n")
        self._own(path)
        socket_dir = self._host(self.socket_inside)
        socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(socket_dir)

    # --- lifecycle ---------------------------------------------------------------------------------
    def is_running(self) -> bool:
        if not (self._host(self.data_inside) / "PG_VERSION").exists():
            return False
        import subprocess

        result = subprocess.run(
            self._pg("pg_ctl", "status", "-D", self.data_inside), capture_output=True, check=False
        )
        return result.returncode == 0

    def up(self) -> None:
        self.ensure_installed()
        self._ensure_cluster()
        if not self.is_running():
            port = self.layout.db_port
            if system.port_open(port):
                raise CommandError(
                    f"port {port} is taken by another program, so TimescaleDB cannot listen on it",
                    fix=f"stop that program (ss -ltnp | grep :{port}) or choose another port (RPM_DB_PORT)",
                )
            self._write_settings()
            log = self._host(self.log_inside)
            log.touch()
            self._own(log)
            with self.progress.step(f"starting TimescaleDB on 127.0.0.1:{port}"):
                system.run(
                    self._pg(
                        "pg_ctl",
                        "start",
                        "-D",
                        self.data_inside,
                        "-l",
                        self.log_inside,
                        "-w",
                        "-t",
                        str(START_TIMEOUT_S),
                    ),
                    what="starting PostgreSQL",
                    fix=f"read {log}",
                )
        self._bootstrap()

    def down(self) -> None:
        if not self.is_running():
            return
        with self.progress.step("stopping TimescaleDB"):
            system.run(
                self._pg("pg_ctl", "stop", "-D", self.data_inside, "-m", "fast", "-w", "-t", "120"),
                what="stopping PostgreSQL",
            )

    # --- roles, database, extension ------------------------------------------------------------------
    def _superuser_connect(self, dbname: str = "postgres") -> psycopg.Connection:
        import psycopg

        return psycopg.connect(
            host=str(self._host(self.socket_inside)),
            port=self.layout.db_port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def _bootstrap(self) -> None:
        """Create the application role and database; idempotent, runs on every `up`."""
        from psycopg import sql

        password = system.read_or_create_secret(self.layout.secrets_dir / "db-rpm.password")
        with self._superuser_connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(password)
                )
            )
            # DROP DATABASE ... WITH (FORCE) of a scratch database (tests, benchmarks) must also end an
            # autovacuum worker busy in it, which PostgreSQL allows only with this role's rights.
            conn.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(APP_ROLE)))
            has_db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone()
        # New databases (the app's, and tests' scratch ones) inherit the extensions from template1.
        with self._superuser_connect("template1") as conn:
            _create_extensions(conn)
        if not has_db:
            with self._superuser_connect() as conn:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)
                    )
                )
        with self._superuser_connect(APP_DATABASE) as conn:
            _create_extensions(conn)

    def status(self) -> TimescaleStatus:
        mode = f"chroot {self.chroot_dir}" if self._uses_chroot() else "host"
        port = self.layout.db_port
        if not self.is_running():
            return TimescaleStatus(False, port, mode, None, None, None, "stopped")
        try:
            with self._superuser_connect(APP_DATABASE) as conn:
                server, ext, lic = _describe(conn)
        except Exception as exc:  # noqa: BLE001 - any failure to query means "not usable"
            return TimescaleStatus(False, port, mode, None, None, None, f"running but not usable: {exc}")
        return TimescaleStatus(True, port, mode, server, ext, lic, "running")


def _create_extensions(conn: psycopg.Connection) -> None:
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")


def _describe(conn: psycopg.Connection) -> tuple[str | None, str | None, str | None]:
    """Server version, timescaledb version and license (`apache` or `timescale`)."""
    row = conn.execute(
        "SELECT current_setting('server_version'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
        " current_setting('timescaledb.license', true)"
    ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def describe_url(url: str) -> tuple[str | None, str | None, str | None]:
    """The same description for a server given by URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return _describe(conn)


def _host_has_timescaledb() -> bool:
    return (
        Path(f"{PG_BIN}/postgres").exists()
        and Path(f"/usr/share/postgresql/{PG_MAJOR}/extension/timescaledb.control").exists()
    )


def _prevent_default_cluster(root: Path) -> None:
    """Debian's postgresql-common creates and starts a `main` cluster on install; we want none."""
    conf_dir = root / "etc/postgresql-common/createcluster.d"
    if system.is_root():
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "rpm-gateway.conf").write_text("create_main_cluster = false\n")


__all__: Sequence[str] = ("LocalTimescale", "TimescaleStatus", "describe_url")
