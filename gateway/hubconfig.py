"""The hub's desired state from the retained config topic: validated, versioned, persisted, watched.

A config is applied only if it parses as a `HubConfig` for this hub and its `version` is higher than the one
running; anything malformed is rejected (the caller reports `config_rejected`) and the last good config stays.
The good one is written to the state directory before it is applied, so a hub restarted without a broker
still knows its devices.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from broker.contract import HubConfig, encode, parse_message
from broker.errors import ContractViolation
from broker.topics import Channel

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    APPLIED = "applied"
    SAME = "same"
    """The running version again (a re-delivered retained message)."""
    STALE = "stale"
    REJECTED = "rejected"
    CLEARED = "cleared"
    """An empty retained payload: the cloud deleted the config; the hub keeps its last good one."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    config: HubConfig | None = None
    repeated: bool = False
    """The same rejected payload as last time (report it once)."""


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, also after a power cut (file and directory are fsynced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_saved(path: Path, hub_id: str) -> HubConfig | None:
    """The persisted config, or None if there is none or it cannot be read (the broker will resend one)."""
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        config = parse_message(Channel.CONFIG, payload)
    except ContractViolation as exc:
        log.error("ignoring the saved config %s: %s", path, exc.reason)
        return None
    if not isinstance(config, HubConfig) or config.hub_id != hub_id:
        log.error("ignoring the saved config %s: it is not this hub's", path)
        return None
    return config


class ConfigStore:
    """Holds the current config; `offer()` judges a received payload, `updates()` streams what is applied."""

    def __init__(self, path: Path, hub_id: str) -> None:
        self.path = path
        self.hub_id = hub_id
        self.current: HubConfig | None = load_saved(path, hub_id)
        self._changed = asyncio.Condition()
        self._last_rejected: bytes | None = None
        self._judging = asyncio.Lock()

    async def offer(self, payload: bytes) -> Decision:
        """Judge payloads one at a time: two in flight could otherwise apply an older one last."""
        async with self._judging:
            return await self._judge(payload)

    async def _judge(self, payload: bytes) -> Decision:
        if not payload:
            return Decision(Verdict.CLEARED)
        try:
            config = parse_message(Channel.CONFIG, payload)
        except ContractViolation as exc:
            return self._rejected(payload, exc.reason)
        assert isinstance(config, HubConfig)
        if config.hub_id != self.hub_id:
            return self._rejected(payload, f"config is for hub {config.hub_id!r}, this is {self.hub_id!r}")
        running = self.current.version if self.current else 0
        if config.version < running:
            return Decision(
                Verdict.STALE, f"version {config.version} is older than running {running}", config
            )
        if config.version == running:
            return Decision(Verdict.SAME, config=config)
        await asyncio.to_thread(_write_atomic, self.path, encode(config))
        self._last_rejected = None
        async with self._changed:
            self.current = config
            self._changed.notify_all()
        return Decision(Verdict.APPLIED, config=config)

    def _rejected(self, payload: bytes, reason: str) -> Decision:
        digest = hashlib.sha256(payload).digest()
        repeated = digest == self._last_rejected
        self._last_rejected = digest
        return Decision(Verdict.REJECTED, reason, repeated=repeated)

    async def updates(self) -> AsyncIterator[HubConfig]:
        """The current config (once there is one), then every newer one; a slow reader gets the latest."""
        seen: HubConfig | None = None
        while True:
            async with self._changed:
                await self._changed.wait_for(
                    lambda last=seen: self.current is not None and self.current is not last
                )
                seen = self.current
            assert seen is not None
            yield seen
