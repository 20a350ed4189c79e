"""`provision_demo`: the demo practice end to end (records, the care managers' logged time, hubs on the
broker, configs, devices files), safe to run again: everything is matched by stable names and reused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import psycopg

from broker.contract import HubConfig
from firmware_profiles import load_profiles
from rpmctl.services.layout import StateLayout
from simulators.demo import homes, logins, records, roster, staff_time
from simulators.demo.broker import DemoBroker, LocalBroker
from simulators.physiology import SimulatedPatient, Simulation, simulate

DEMO_DIR: Final = "demo"
HOMES_DIR: Final = "homes"
LOGINS_FILE: Final = "logins.json"
HUB_PREFIX: Final = "rfm-hub"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    full_name: str
    role: str
    password: str
    can_log_in: bool
    """False when no password hash could be stored (argon2-cffi missing): the password is in the file only."""


@dataclass(frozen=True)
class DemoHome:
    hub_id: str
    mrn: str
    patient_name: str
    scenario: str
    bundle_dir: Path
    config_file: Path
    devices_file: Path
    control_dir: Path
    device_ids: tuple[str, ...]
    start_after: datetime | None
    """Start this home's hub no earlier than this (its scenario is a hub offline, then a backlog)."""


@dataclass(frozen=True)
class DemoPlan:
    practice_id: str
    practice_name: str
    state_dir: Path
    logins_file: Path
    users: tuple[DemoLogin, ...]
    homes: tuple[DemoHome, ...]
    created: dict[str, int]
    """What this run made (patients, hubs, devices_files, passwords, time_entries): all 0 when everything was
    reused."""


def _layout(layout_or_state_dir: StateLayout | Path) -> StateLayout:
    if isinstance(layout_or_state_dir, StateLayout):
        return layout_or_state_dir
    return StateLayout.from_environment(Path(layout_or_state_dir))


def _local_broker(layout: StateLayout) -> LocalBroker:
    from rpmctl.services.stack import LocalStack

    stack = LocalStack(layout)
    ends = stack.endpoints()
    return LocalBroker(stack.mosquitto.admin(), hub_url=ends.mqtt_hub_url, admin_url=ends.mqtt_admin_url)


def _passwords(path: Path, without_hash: set[str]) -> tuple[dict[str, str], dict[str, str | None], int]:
    """Stored passwords, made for staff who have none yet; hashes to set for new ones and for users whose
    hash is missing. Returns (passwords, hashes to set, passwords made)."""
    stored = logins.load(path)
    made = 0
    for s in roster.STAFF:
        if s.email not in stored:
            stored[s.email] = logins.new_password()
            without_hash.add(s.email)
            made += 1
    if made:
        logins.save(path, stored)
    return stored, {email: logins.password_hash(stored[email]) for email in without_hash}, made


def provision_demo(
    database_url: str,
    layout_or_state_dir: StateLayout | Path,
    *,
    now: datetime | None = None,
    seed: int = 0,
    broker: DemoBroker | None = None,
    hub_prefix: str = HUB_PREFIX,
) -> DemoPlan:
    """Provision (or find) the demo practice, its staff, 20 patients and their homes; see the module doc.

    `now` (default: the current time) ends the simulated history; `seed` decides every simulated value;
    `broker` defaults to the local stack's (tests may pass their own); `hub_prefix` names the hubs.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    layout = _layout(layout_or_state_dir)
    demo_dir = layout.state_dir / DEMO_DIR
    demo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    logins_path = demo_dir / LOGINS_FILE
    today = now.astimezone(ZoneInfo(roster.PRACTICE_TIMEZONE)).date()
    models = {p.id: p.device_information.model_number for p in load_profiles().by_id.values()}
    created = {"patients": 0, "hubs": 0, "devices_files": 0, "passwords": 0, "time_entries": 0}

    with psycopg.connect(database_url) as conn:  # one transaction: commits on success only
        practice_id = records.ensure_practice(conn)
        passwords, hashes, created["passwords"] = _passwords(logins_path, records.users_without_hash(conn))
        team = records.ensure_team(conn, practice_id, hashes)
        managers = team.members("care_manager")
        planned = []
        cared_for = []
        for p in roster.PATIENTS:
            patient = records.ensure_patient(conn, team, p, today)
            created["patients"] += patient.created
            manager = managers[(p.number - 1) % len(managers)]
            cared_for.append(staff_time.enrolled(conn, p, patient.patient_id, manager, patient.episode_start))
            sim_patient = SimulatedPatient(p.mrn, p.conditions, roster.PRACTICE_TIMEZONE)
            devices = homes.devices_for(p, sim_patient.kinds)
            hub = homes.hub_id(hub_prefix, p)
            records.ensure_home(conn, team, patient, hub, devices, models)
            planned.append((p, patient, sim_patient, devices, hub))
        created["time_entries"] = staff_time.ensure_time_entries(conn, cared_for, now, seed)

    broker = broker or _local_broker(layout)
    out_dir = demo_dir / HOMES_DIR
    configs: list[HubConfig] = []
    demo_homes = []
    for p, patient, sim_patient, devices, hub in planned:
        bundle, issued = broker.ensure_hub(hub, out_dir)
        created["hubs"] += issued
        sim: Simulation = simulate(sim_patient, p.scenario, now=now, seed=seed)
        devices_file, written = homes.write_devices_file(bundle, sim, devices)
        created["devices_files"] += written
        homes.ensure_passkeys(bundle / "hub.toml", devices_file)
        issued_at = datetime.combine(patient.episode_start, datetime.min.time(), tzinfo=UTC)
        configs.append(homes.hub_config(hub, devices, issued_at))
        demo_homes.append(
            DemoHome(
                hub_id=hub,
                mrn=p.mrn,
                patient_name=f"{p.given_name} {p.family_name}",
                scenario=p.scenario.value,
                bundle_dir=bundle,
                config_file=bundle / "hub.toml",
                devices_file=devices_file,
                control_dir=bundle / homes.CONTROL_DIR,
                device_ids=tuple(d.serial for d in devices),
                start_after=sim.hub_outage.end if sim.hub_outage else None,
            )
        )
    broker.publish_configs(configs)
    users = tuple(
        DemoLogin(s.email, s.full_name, s.role, passwords[s.email], logins.hashing_available())
        for s in roster.STAFF
    )
    return DemoPlan(
        str(practice_id),
        roster.PRACTICE_NAME,
        layout.state_dir,
        logins_path,
        users,
        tuple(demo_homes),
        created,
    )
