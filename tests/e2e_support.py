"""The whole system for the end-to-end tests (`test_e2e_*`): real hub code with simulated BLE devices, the
real broker, `rpm ingest run`, the alert engine's runner and the care-team API, on the local stack.

Isolation: one scratch database for the session (migrated from the working tree), one ingest worker with a
client id and MQTT 5 share group of its own (a session prepared before it starts, deleted afterwards), hubs
provisioned with unique ids. Each test module runs its own (`running_stack`). This module holds no tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

import httpx
import psycopg

from alerts.runner import RunnerConfig
from alerts.runner import run as run_alert_engine
from broker.admin.accounts import BrokerAdmin
from broker.contract import AssignedDevice, HubConfig
from broker.contract.readings import ReadingKind
from careteam_api.auth.passwords import hash_password
from careteam_api.program import consent, episodes, team
from careteam_api.program.patients import PatientRow, upsert_patient
from database.migrate import migrate
from firmware_profiles import load_profiles
from gateway.radio import home_zone
from gateway.settings import load_settings
from rpmctl.services.endpoints import Endpoints
from simulators.ble import SimClock
from simulators.demo import records
from simulators.home import Home, HomeOptions, HomeSpec
from simulators.home.devices import build_device, device_memory, take
from simulators.home.memory import RecordMemory, load_memory, save_memory
from simulators.home.spec import Measurement
from simulators.physiology import DeviceIdentity
from tests.conftest import ProvisionedHub
from tests.mqtt_helpers import TlsFiles
from tests.test_api_support import PASSWORD, scratch_database, serve, settings_for, token_for
from tests.test_home_support import CONTINUOUS_SCAN, PROFILES, ZONE, device, home_hub_file, home_spec
from tests.test_hub_support import BASE_TIME, publish_config
from tests.test_ingest_support import WorkerProcess, forget_sessions, prepare_session, unique, wait_for

T = TypeVar("T")

WAIT_S: Final = 60.0
"""Upper bound of a wait for the system to get somewhere; a pass takes a fraction of it. Only a failing run
(or a machine busy with other test processes) ever waits this long."""
HOME_STOP_S: Final = 30.0
"""A stopping hub publishes its offline status and closes its outbox: well under a second on loopback."""
API_TIMEOUT_S: Final = 30.0
ROLES: Final = ("care_manager", "clinician", "biller", "admin")
CONSENT_DAYS_AGO: Final = 40
EPISODE_DAYS_AGO: Final = 29
"""The RPM episode's first 30-day device period ends today, so this month's evaluation bills (or reports)
it with its data days listed, today's included."""


# --- the running system --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stack:
    database_url: str
    api_url: str
    services: Endpoints
    worker: WorkerProcess


@contextmanager
def ingest_worker(database_url: str, mqtt_url: str) -> Iterator[WorkerProcess]:
    """`rpm ingest run` with an id and share group of its own; its broker session exists before it starts."""
    worker = WorkerProcess(database_url, mqtt_url, unique("e2e"), unique("e2e"), "--max-delay-ms", "20")
    prepare_session(mqtt_url, worker.client_id, worker.share_group)
    worker.start()
    try:
        yield worker
    finally:
        try:
            assert worker.process is not None
            if worker.process.poll() is None:
                worker.stop()
        finally:
            forget_sessions(mqtt_url, [worker.client_id])


@contextmanager
def alert_engine(database_url: str) -> Iterator[None]:
    """`alerts.runner.run` as `rpm alerts run` runs it (its default tick), in a thread of this process."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run_alert_engine(RunnerConfig(database_url), stop=stop.is_set)
        except BaseException as exc:
            errors.append(exc)
            raise

    thread = threading.Thread(target=target, name="alert-engine", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(WAIT_S)  # the runner looks at `stop` between waits of at most 5 s
    assert not thread.is_alive(), "the alert engine did not stop"
    assert not errors, errors


@contextmanager
def running_stack(services: Endpoints, mqtt_url: str) -> Iterator[Stack]:
    """A scratch database with an ingest worker, the alert engine and the API on it (per test module)."""
    with scratch_database(services.database_url) as url:
        migrate(url)
        with (
            ingest_worker(url, mqtt_url) as worker,
            alert_engine(url),
            serve(settings_for(url)) as api_url,
        ):
            yield Stack(url, api_url, services, worker)
            assert worker.process is not None
            assert worker.process.poll() is None, f"the ingest worker died (log: {worker.log})"


# --- records: practices, staff, patients, homes ----------------------------------------------------------
@dataclass
class Clinic:
    """A practice with one user per role; API calls as any of them."""

    practice_id: uuid.UUID
    api_url: str
    emails: dict[str, str]
    user_ids: dict[str, uuid.UUID]
    _tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        if role not in self._tokens:
            self._tokens[role] = token_for(self.api_url, self.emails[role])
        return {"Authorization": f"Bearer {self._tokens[role]}"}

    def get(self, path: str, role: str = "care_manager", **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.api_url}/api/v1{path}", params=params, headers=self.headers(role), timeout=API_TIMEOUT_S
        )

    def post(self, path: str, role: str = "care_manager", **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.api_url}/api/v1{path}", json=body, headers=self.headers(role), timeout=API_TIMEOUT_S
        )


def create_clinic(stack: Stack, label: str) -> Clinic:
    """A practice in the home's time zone, with a care team and one user (password `PASSWORD`) per role."""
    hashed = hash_password(PASSWORD)
    tag = uuid.uuid4().hex[:6]
    with psycopg.connect(stack.database_url) as conn:
        (practice_id,) = conn.execute(
            "INSERT INTO practices (name, timezone) VALUES (%s, %s) RETURNING practice_id",
            (f"Practice {label} {tag}", ZONE),
        ).fetchone()
        care_team = team.create_care_team(conn, practice_id, f"Team {label}")
        emails, ids = {}, {}
        for role in ROLES:
            email = f"{role}.{label}.{tag}@example.org".lower()
            user = team.create_user(
                conn,
                practice_id,
                email,
                f"{role.replace('_', ' ').title()} {label}",
                role,  # type: ignore[arg-type]
                npi="1234567893" if role == "clinician" else None,
                password_hash=hashed,
            )
            team.add_member(conn, care_team, user.user_id)
            emails[role], ids[role] = email, user.user_id
    return Clinic(practice_id, stack.api_url, emails, ids)


def local_today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


def enroll_patient(stack: Stack, clinic: Clinic, hub_id: str, devices: list[DeviceIdentity]) -> uuid.UUID:
    """A patient of `clinic` with CCM and RPM consent, an RPM episode that started `EPISODE_DAYS_AGO` days
    ago, and a home: the hub and its devices assigned from the episode's start (simulators.demo.records)."""
    today = local_today()
    models = {p.id: p.device_information.model_number for p in load_profiles().by_id.values()}
    with psycopg.connect(stack.database_url) as conn:
        patient_id, _ = upsert_patient(
            conn,
            clinic.practice_id,
            PatientRow(f"MRN-{uuid.uuid4().hex[:8]}", "Ada", "Lovelace", date(1952, 4, 1), ZONE),
        )
        for program in ("ccm", "rpm"):
            consent.record_consent(
                conn,
                patient_id,
                program,
                method="verbal",
                consented_on=today - timedelta(days=CONSENT_DAYS_AGO),
                obtained_by=clinic.user_ids["care_manager"],
                consent_text=f"Patient agreed to {program.upper()} services.",
            )
        start = today - timedelta(days=EPISODE_DAYS_AGO)
        episodes.start_episode(conn, patient_id, start)
        staff = records.Team(clinic.practice_id, uuid.uuid4(), {})
        records.ensure_home(
            conn, staff, records.PatientRecords(patient_id, start, True), hub_id, devices, models
        )
    return patient_id


def identity(address: str, serial: str) -> DeviceIdentity:
    profile = load_profiles().get(PROFILES[address])
    return DeviceIdentity(kind=profile.kinds[0], profile=profile.id, address=address, serial=serial)


def provision_hub(broker_admin: BrokerAdmin, services: Endpoints, out_dir: Path) -> ProvisionedHub:
    """A hub on the real broker (as `rpm broker add-hub`), its bundle in `out_dir` (conftest's, any scope)."""
    hub_id = f"hub-e2e-{uuid.uuid4().hex[:10]}"
    bundle = broker_admin.add_hub(hub_id, broker_url=services.mqtt_hub_url, out_dir=out_dir)
    config = tomllib.loads(bundle.config_file.read_text())
    tls = TlsFiles(bundle.directory / "ca.crt", bundle.directory / "hub.crt", bundle.directory / "hub.key")
    return ProvisionedHub(hub_id, config["password"], services.mqtt_hub_url, tls)


def assign_devices(services: Endpoints, hub_id: str, devices: list[DeviceIdentity], version: int = 1) -> None:
    """The hub's retained config, as the cloud publishes it: these devices, scanned continuously."""
    config = HubConfig(
        hub_id=hub_id,
        version=version,
        issued_at=BASE_TIME,
        devices=tuple(
            AssignedDevice(device_id=d.serial, profile=d.profile, address=d.address, name=d.profile)
            for d in devices
        ),
        scan=CONTINUOUS_SCAN,
    )
    publish_config(services.mqtt_admin_url, hub_id, config)


def spec_for(devices: list[DeviceIdentity], **fields: dict[str, Any]) -> HomeSpec:
    """The home's devices file: each identity, plus per-address fields (stored readings, passkey...)."""
    return home_spec(*(device(d.address, serial=d.serial, **fields.get(d.address, {})) for d in devices))


def local_noon(day: date) -> datetime:
    return datetime.combine(day, clock_time(12, 0), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


# --- a home running in a thread of its own -----------------------------------------------------------------
class RunningHome:
    """`Home(settings, spec, options).run(stop)` in its own thread and event loop, so a test can poll the API
    and the database synchronously while the hub and its devices run; `call` runs a function on the loop."""

    def __init__(self, hub: ProvisionedHub, spec: HomeSpec, options: HomeOptions | None = None) -> None:
        self.settings = load_settings(home_hub_file(hub))
        self.spec = spec
        self.options = options or HomeOptions()
        self.loop = asyncio.new_event_loop()
        self.home: Home | None = None
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"home-{hub.hub_id}", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self._ready.set()
            self._cancel_leftovers()
            self.loop.close()

    def _cancel_leftovers(self) -> None:
        """Tasks `Home.run` cancelled without awaiting them (its waits): let them finish cancelling."""
        leftovers = asyncio.all_tasks(self.loop)
        for task in leftovers:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self.home = Home(self.settings, self.spec, self.options)
        self._ready.set()
        await self.home.run(self._stop)

    def __enter__(self) -> RunningHome:
        self._thread.start()
        assert self._ready.wait(WAIT_S), "the home did not start"
        self.until(lambda home: home.memory is not None and home.hub.connected.is_set(), "the hub to connect")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            assert self._stop is not None
            self.loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(HOME_STOP_S)
            assert not self._thread.is_alive(), "the home did not stop"
        if self.error is not None:
            raise AssertionError("the simulated home failed") from self.error

    def call(self, function: Callable[[Home], T]) -> T:
        """`function(home)` on the home's loop (the devices and the hub are not thread-safe)."""
        if self.error is not None:
            raise AssertionError("the simulated home failed") from self.error

        async def on_loop() -> T:
            assert self.home is not None
            return function(self.home)

        future: Future[T] = asyncio.run_coroutine_threadsafe(on_loop(), self.loop)
        return future.result(WAIT_S)

    def until(self, condition: Callable[[Home], bool], what: str) -> None:
        wait_for(lambda: self.call(condition), what, WAIT_S)

    def take(self, address: str, **values: Any) -> tuple[RecordMemory, float]:
        """The patient measures now; returns the device's record and the monotonic time it was taken."""

        def measure(home: Home) -> tuple[RecordMemory, float]:
            taken = time.monotonic()
            return home.take(address, **values), taken

        return self.call(measure)

    def configured(self, version: int) -> None:
        def applied(home: Home) -> bool:
            current = home.hub.config.current
            return current is not None and current.version >= version

        self.until(applied, f"the hub to apply config version {version}")


def measure_while_hub_stopped(
    hub: ProvisionedHub, spec: HomeSpec, measurements: list[tuple[str, datetime, Measurement]]
) -> list[RecordMemory]:
    """The devices record measurements while no hub runs: added to the devices' memory (what a stopped home
    keeps between runs) at their times, with the devices' own clocks, exactly as `Home.take` records them."""
    settings = load_settings(home_hub_file(hub))
    path = settings.state_dir / "simulated-devices.json"
    memory = load_memory(path)
    assert memory is not None, "the home never ran"
    profiles = load_profiles()
    clock = SimClock(start=datetime.now(UTC))
    zone = home_zone(spec.timezone or settings.timezone)
    devices = {
        d.address: build_device(
            d, profiles.get(d.profile), clock, zone, memory.devices[d.address], lambda: None
        )
        for d in spec.devices
    }
    taken = [take(devices[address], values, at) for address, at, values in sorted(measurements, key=_at)]
    for address, simulated in devices.items():
        memory.devices[address] = device_memory(simulated)
    save_memory(path, memory)
    return taken


def _at(item: tuple[str, datetime, Measurement]) -> datetime:
    return item[1]


# --- the database ------------------------------------------------------------------------------------------
def rows(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def readings_of(url: str, patient_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(reading_id, measured_at, kind, systolic, diastolic, glucose, source, hub_id), oldest first."""
    return rows(
        url,
        "SELECT reading_id, measured_at, kind, systolic_mmhg, diastolic_mmhg, glucose_mg_dl, source, hub_id"
        " FROM readings WHERE patient_id = %s ORDER BY measured_at",
        (patient_id,),
    )


def wait_for_readings(url: str, patient_id: uuid.UUID, count: int) -> list[tuple[Any, ...]]:
    wait_for(lambda: len(readings_of(url, patient_id)) >= count, f"{count} readings in the database", WAIT_S)
    return readings_of(url, patient_id)


def kind_of(address: str) -> ReadingKind:
    return load_profiles().get(PROFILES[address]).kinds[0]
