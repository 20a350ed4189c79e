"""Per-device-model profiles: declarative TOML files, validated by pydantic at load, shipped as package data.

One file per model (`<id>.toml`) says how to recognise the model, what it measures, which characteristics to
subscribe to, how to treat its clock, how to get its stored records, how to bond, how it ends a connection,
and its quirks with their sources; each file carries golden and corrupt byte cases for the codec. The session
code in `gateway.ble` reads these fields and has no per-model branches, so a compliant new model is a new
file. `load_profiles()` returns a `ProfileSet` whose lookup indexes are derived from the loaded files.
"""

from firmware_profiles.errors import (
    DuplicateProfileError,
    ProfileError,
    ProfileInvalidError,
    UnknownProfileError,
)
from firmware_profiles.loader import ProfileMatch, ProfileSet, load_profile_text, load_profiles
from firmware_profiles.schema import (
    Bonding,
    BondingMode,
    Clock,
    ClockMode,
    CorruptCase,
    GoldenCase,
    LinkBehaviour,
    Measurement,
    Profile,
    Quirk,
    Recognition,
    Records,
    RecordStrategy,
    normalize_uuid,
)

__all__ = [
    "Bonding",
    "BondingMode",
    "Clock",
    "ClockMode",
    "CorruptCase",
    "DuplicateProfileError",
    "GoldenCase",
    "LinkBehaviour",
    "Measurement",
    "Profile",
    "ProfileError",
    "ProfileInvalidError",
    "ProfileMatch",
    "ProfileSet",
    "Quirk",
    "Recognition",
    "RecordStrategy",
    "Records",
    "UnknownProfileError",
    "load_profile_text",
    "load_profiles",
    "normalize_uuid",
]
