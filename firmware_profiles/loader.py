"""Load every `*.toml` profile shipped in this package, validate it, and derive the lookup indexes.

Indexes (by id, name prefix, advertised service, manufacturer id) are computed from the loaded set, never kept
by hand, so adding a compliant model is adding one file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError

from firmware_profiles.errors import DuplicateProfileError, ProfileInvalidError, UnknownProfileError
from firmware_profiles.schema import Profile, normalize_uuid

PROFILE_SUFFIX = ".toml"

MATCH_BY_NAME = 3
MATCH_BY_MANUFACTURER = 2
MATCH_BY_SERVICE = 1
"""A name prefix names one model; a manufacturer id narrows to a vendor; an advertised SIG service only says
"some cuff": the generic profiles match by service and lose to any specific one."""


def load_profile_text(text: str, file: str) -> Profile:
    """Parse and validate one profile; refuse it with file, field and reason."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileInvalidError(file, [("<toml>", str(exc))]) from exc
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "<profile>", error["msg"])
            for error in exc.errors()
        ]
        raise ProfileInvalidError(file, problems) from exc
    stem = file.rsplit("/", 1)[-1].removesuffix(PROFILE_SUFFIX)
    if profile.id != stem:
        raise ProfileInvalidError(file, [("id", f"id {profile.id!r} must equal the file name {stem!r}")])
    return profile


def _files(directory: Traversable | Path) -> list[Traversable | Path]:
    return sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(PROFILE_SUFFIX)), key=lambda e: e.name
    )


def load_profiles(directory: Traversable | Path | None = None) -> ProfileSet:
    """Load the package's profiles (or those in `directory`); any bad file refuses the whole set."""
    root = directory if directory is not None else resources.files("firmware_profiles")
    loaded = [(entry.name, load_profile_text(entry.read_text("utf-8"), entry.name)) for entry in _files(root)]
    return ProfileSet.from_profiles(loaded)


@dataclass(frozen=True)
class ProfileMatch:
    profile: Profile
    score: int


@dataclass(frozen=True)
class ProfileSet:
    """The loaded profiles and the indexes derived from them."""

    profiles: tuple[Profile, ...]
    by_id: Mapping[str, Profile] = field(repr=False)
    by_name_prefix: Mapping[str, Profile] = field(repr=False)
    by_service: Mapping[str, tuple[Profile, ...]] = field(repr=False)
    by_manufacturer_id: Mapping[int, tuple[Profile, ...]] = field(repr=False)

    @classmethod
    def from_profiles(cls, named: Iterable[tuple[str, Profile]]) -> ProfileSet:
        by_id: dict[str, tuple[str, Profile]] = {}
        by_prefix: dict[str, tuple[str, Profile]] = {}
        by_service: dict[str, list[Profile]] = {}
        by_manufacturer: dict[int, list[Profile]] = {}
        for file, profile in named:
            if profile.id in by_id:
                raise DuplicateProfileError("profile id", profile.id, (by_id[profile.id][0], file))
            by_id[profile.id] = (file, profile)
            for prefix in profile.recognition.name_prefixes:
                for other_prefix, (other_file, _) in by_prefix.items():
                    if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                        raise DuplicateProfileError("name prefix", prefix, (other_file, file))
                by_prefix[prefix] = (file, profile)
            for uuid in profile.recognition.service_uuids:
                by_service.setdefault(uuid, []).append(profile)
            for company in profile.recognition.manufacturer_ids:
                by_manufacturer.setdefault(company, []).append(profile)
        return cls(
            profiles=tuple(p for _, p in by_id.values()),
            by_id=MappingProxyType({k: p for k, (_, p) in by_id.items()}),
            by_name_prefix=MappingProxyType({k: p for k, (_, p) in by_prefix.items()}),
            by_service=MappingProxyType({k: tuple(v) for k, v in by_service.items()}),
            by_manufacturer_id=MappingProxyType({k: tuple(v) for k, v in by_manufacturer.items()}),
        )

    def get(self, profile_id: str) -> Profile:
        try:
            return self.by_id[profile_id]
        except KeyError:
            raise UnknownProfileError(profile_id, list(self.by_id)) from None

    def match(
        self,
        name: str | None,
        service_uuids: Iterable[str] = (),
        manufacturer_ids: Iterable[int] = (),
    ) -> Profile | None:
        """The profile for an advertisement: name prefix, else manufacturer id, else advertised service.

        A model-specific profile (one with name prefixes or manufacturer ids) needs one of those to match;
        services then only add weight. Ambiguity the evidence cannot settle returns None rather than a guess.
        """
        candidates = self.candidates(name, service_uuids, manufacturer_ids)
        if not candidates:
            return None
        best = candidates[0]
        if len(candidates) > 1 and candidates[1].score == best.score:
            return None
        return best.profile

    def candidates(
        self,
        name: str | None,
        service_uuids: Iterable[str] = (),
        manufacturer_ids: Iterable[int] = (),
    ) -> list[ProfileMatch]:
        """Every profile the advertisement fits, best first; score = sum of the kinds of evidence matched."""
        services = {normalize_uuid(u) for u in service_uuids}
        companies = set(manufacturer_ids)
        scores: dict[str, int] = {}
        if name:
            for prefix, profile in self.by_name_prefix.items():
                if name.startswith(prefix):
                    scores[profile.id] = scores.get(profile.id, 0) + MATCH_BY_NAME
        for company in companies:
            for profile in self.by_manufacturer_id.get(company, ()):
                scores[profile.id] = scores.get(profile.id, 0) + MATCH_BY_MANUFACTURER
        for uuid in services:
            for profile in self.by_service.get(uuid, ()):
                specific = profile.recognition.name_prefixes or profile.recognition.manufacturer_ids
                if specific and profile.id not in scores:
                    continue  # a model-specific profile is never chosen by a SIG service alone
                scores[profile.id] = scores.get(profile.id, 0) + MATCH_BY_SERVICE
        ranked = [ProfileMatch(self.by_id[pid], score) for pid, score in scores.items()]
        return sorted(ranked, key=lambda m: (-m.score, m.profile.id))
