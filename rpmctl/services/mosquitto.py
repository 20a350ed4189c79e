"""The local Mosquitto: installed from Debian's package, run with the project's `broker/` config."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from broker.admin.accounts import BrokerAdmin, BrokerFiles, ProvisioningError
from rpmctl.errors import CommandError
from rpmctl.services import system
from rpmctl.services.layout import StateLayout
from rpmctl.services.progress import Progress

# Mosquitto answers CONNECT within milliseconds once listening; 10 s covers a slow first
# start that loads a large persistence file.
START_TIMEOUT_S = 10.0
# A clean stop writes the persistence file first; a day of backlog takes a few seconds.
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MosquittoStatus:
    running: bool
    pid: int | None
    port: int
    version: str | None
    detail: str


class LocalMosquitto:
    """Start, stop and inspect the project's Mosquitto for one state directory."""

    def __init__(self, layout: StateLayout, progress: Progress) -> None:
        self.layout = layout
        self.progress = progress
        self.dir = layout.mosquitto_dir

    @property
    def files(self) -> BrokerFiles:
        return BrokerFiles(self.dir)

    def admin(self) -> BrokerAdmin:
        """Account administration through this broker's control API (when it runs)."""
        url = f"mqtt://127.0.0.1:{self.layout.mqtt_port}" if self._pid() is not None else None
        return BrokerAdmin(self.files, control_url=url)

    @property
    def conf_path(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def pid_path(self) -> Path:
        return self.dir / "mosquitto.pid"

    @property
    def log_path(self) -> Path:
        return self.dir / "mosquitto.log"

    @property
    def persistence_dir(self) -> Path:
        return self.dir / "data"

    def _pid(self) -> int | None:
        pid = system.read_pid(self.pid_path)
        if pid is not None and system.pid_alive(pid, "mosquitto"):
            return pid
        return None

    def ensure_installed(self) -> None:
        if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
            system.apt_install(["mosquitto", "mosquitto-clients"], self.progress)

    def render_config(self) -> None:
        template = resources.files("broker").joinpath("mosquitto.conf.tmpl").read_text()
        files = self.files
        text = Template(template).substitute(
            mqtt_port=self.layout.mqtt_port,
            mqtts_port=self.layout.mqtts_port,
            hub_bind_address=self.layout.hub_bind_address,
            dynsec_plugin=_dynsec_plugin(),
            dynsec_file=files.dynsec_file,
            ca_file=files.ca_cert,
            server_cert=files.server_cert,
            server_key=files.server_key,
            persistence_dir=self.persistence_dir,
            pid_file=self.pid_path,
            log_file=self.log_path,
        )
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(text)
        self._hand_to_service_user()

    def _hand_to_service_user(self) -> None:
        """As root, Mosquitto drops to the `mosquitto` user, which must own its data."""
        if not system.is_root():
            return
        try:
            entry = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        os.chmod(self.layout.state_dir, 0o755)
        files = self.files
        owned = (
            self.dir,
            self.persistence_dir,
            *self.persistence_dir.iterdir(),
            self.log_path,
            files.pki_dir,
            files.server_key,
            files.server_cert,
            files.dynsec_file,
        )
        for path in owned:
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def up(self) -> None:
        self.ensure_installed()
        if self._pid() is not None:
            return
        port = self.layout.mqtt_port
        for taken, setting in ((port, "RPM_MQTT_PORT"), (self.layout.mqtts_port, "RPM_MQTTS_PORT")):
            if system.port_open(taken):
                raise CommandError(
                    f"port {taken} is taken by another program, so Mosquitto cannot listen on it",
                    fix=f"stop that program (ss -ltnp | grep :{taken}) or choose another port: {setting}=...",
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.admin().init()
        except ProvisioningError as exc:
            raise CommandError(str(exc), fix=exc.fix) from exc
        self.render_config()
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with self.progress.step(
            f"starting Mosquitto on 127.0.0.1:{port} (services), :{self.layout.mqtts_port} (hubs, TLS)"
        ):
            self.pid_path.unlink(missing_ok=True)
            # Daemon mode: Mosquitto detaches itself and writes its pid file after dropping privileges.
            system.run(
                [binary, "-c", str(self.conf_path), "-d"],
                what="starting Mosquitto",
                fix=f"read {self.log_path}",
            )
            if not system.wait_for_port(port, timeout=START_TIMEOUT_S, alive=self._starting):
                tail = self._log_tail()
                raise CommandError(
                    f"Mosquitto did not start on port {port}:\n{tail}",
                    fix=f"read {self.log_path}; a broken persistence file can be moved aside",
                )
        try:
            self.admin().sync_service_roles()
        except ProvisioningError as exc:
            raise CommandError(str(exc), fix=exc.fix) from exc

    def _starting(self) -> bool:
        """True while the daemon may still come up: no pid file yet, or its process lives."""
        pid = system.read_pid(self.pid_path)
        return pid is None or system.pid_alive(pid, "mosquitto")

    def down(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        with self.progress.step("stopping Mosquitto"):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline and system.pid_alive(pid, "mosquitto"):
                time.sleep(0.05)
            if system.pid_alive(pid, "mosquitto"):
                os.kill(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    def status(self) -> MosquittoStatus:
        pid = self._pid()
        port = self.layout.mqtt_port
        listening = system.port_open(port)
        version = self._version()
        if pid is not None and listening:
            return MosquittoStatus(True, pid, port, version, "running")
        if pid is not None:
            return MosquittoStatus(False, pid, port, version, "process alive but not listening")
        return MosquittoStatus(False, None, port, version, "stopped")

    def _version(self) -> str | None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            return None
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False).stdout
        first = out.splitlines()[0] if out else ""
        return first.removeprefix("mosquitto version ").strip() or None

    def _log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _dynsec_plugin() -> Path:
    """Debian ships the dynamic-security plugin in the `mosquitto` package, under the multiarch dir."""
    found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so")) + sorted(
        Path("/usr/lib").glob("mosquitto_dynamic_security.so")
    )
    if not found:
        raise CommandError(
            "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) is not installed",
            fix="install Debian's `mosquitto` package (2.0 or newer)",
        )
    return found[0]
