"""Firmware profiles: every shipped file loads, proves itself against the codec, and bad files are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_profiles import (
    DuplicateProfileError,
    Profile,
    ProfileInvalidError,
    UnknownProfileError,
    load_profile_text,
    load_profiles,
)
from gateway.ble.codec.errors import DecodeError
from gateway.ble.codec.fields import canonical_fields
from gateway.ble.codec.registry import lookup

PROFILES = load_profiles()
REQUIRED = {
    "sig-blood-pressure",
    "sig-glucose",
    "sig-weight-scale",
    "and-ua-651ble",
    "and-uc-352ble",
    "omron-bp7250",
    "accu-chek-guide",
    "contour-next-one",
}
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "firmware_profiles"


def test_the_required_models_are_shipped() -> None:
    assert set(PROFILES.by_id) >= REQUIRED


@pytest.mark.parametrize("profile", PROFILES.profiles, ids=lambda p: p.id)
def test_every_profile_has_golden_and_corrupt_cases_that_the_codec_honours(profile: Profile) -> None:
    assert profile.golden, "a profile without golden bytes proves nothing"
    assert profile.corrupt, "a profile without a corrupt case does not show the codec refuses bad input"
    measured = {m.characteristic for m in profile.measurements}
    assert measured & {case.characteristic for case in profile.golden}
    for case in profile.golden:
        characteristic = lookup(case.characteristic)
        fields = canonical_fields(characteristic, characteristic.decode(bytes.fromhex(case.hex)))
        for key, expected in case.expect.items():
            if isinstance(expected, float):
                assert fields[key] == pytest.approx(expected), key
            else:
                assert fields[key] == expected, key
    for case in profile.corrupt:
        with pytest.raises(DecodeError):
            lookup(case.characteristic).decode(bytes.fromhex(case.hex))


@pytest.mark.parametrize("profile", PROFILES.profiles, ids=lambda p: p.id)
def test_every_quirk_names_its_source(profile: Profile) -> None:
    for quirk in profile.quirks:
        assert quirk.source.strip()


def test_indexes_are_derived_from_the_loaded_files() -> None:
    prefixes = {prefix for p in PROFILES.profiles for prefix in p.recognition.name_prefixes}
    assert set(PROFILES.by_name_prefix) == prefixes
    services = {uuid for p in PROFILES.profiles for uuid in p.recognition.service_uuids}
    assert set(PROFILES.by_service) == services
    for uuid, profiles in PROFILES.by_service.items():
        assert all(uuid in p.recognition.service_uuids for p in profiles)


@pytest.mark.parametrize(
    ("name", "services", "expected"),
    [
        ("A&D_UA-651BLE_123456", ["1810"], "and-ua-651ble"),
        ("A&D_UC-352BLE_9", ["181D"], "and-uc-352ble"),
        ("BLEsmart_0000011F", ["1810"], "omron-bp7250"),
        ("meter+06647322", ["1808"], "accu-chek-guide"),
        ("Contour7830H6543210", ["1808"], "contour-next-one"),
        ("Some cuff", ["1810"], "sig-blood-pressure"),
        ("Some meter", ["0x1808"], "sig-glucose"),
        (None, ["0000181d-0000-1000-8000-00805f9b34fb"], "sig-weight-scale"),
    ],
)
def test_match_prefers_the_model_over_the_generic_profile(
    name: str | None, services: list[str], expected: str
) -> None:
    matched = PROFILES.match(name, services)
    assert matched is not None
    assert matched.id == expected


def test_unknown_devices_match_nothing() -> None:
    assert PROFILES.match("Headphones", ["180F"]) is None
    with pytest.raises(UnknownProfileError, match="no firmware profile 'nope'"):
        PROFILES.get("nope")


def _text(profile_id: str = "sig-glucose") -> str:
    return (PACKAGE_DIR / f"{profile_id}.toml").read_text("utf-8")


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (lambda t: t.replace('mode = "notify"', 'mode = "shout"'), "measurements.0.mode", "notify"),
        (
            lambda t: t.replace('characteristic = "2A18"', 'characteristic = "2AFF"'),
            "measurements.0.characteristic",
            "no decoder",
        ),
        (
            lambda t: t.replace('strategy = "racp_since_last"', 'strategy = "racp_since_last"\nspeed = 3'),
            "records.speed",
            "Extra inputs",
        ),
        (lambda t: t.replace('racp_characteristic = "2A52"\n', ""), "records", "needs racp_characteristic"),
        (
            lambda t: t.replace("transfer_timeout_s = 30.0", "transfer_timeout_s = -1"),
            "records.transfer_timeout_s",
            "greater than 0",
        ),
        (lambda t: t.split("[[golden]]")[0], "golden", "Field required"),
        (
            lambda t: t.replace('[clock]\nmode = "none"', '[clock]\nmode = "read_only"'),
            "clock",
            "needs characteristic",
        ),
    ],
    ids=[
        "bad-mode",
        "unknown-characteristic",
        "unknown-key",
        "racp-without-cp",
        "negative-timeout",
        "no-golden",
        "clock-without-characteristic",
    ],
)
def test_a_bad_profile_is_refused_with_file_field_and_reason(
    edit: Callable[[str], str], field: str, reason: str
) -> None:
    with pytest.raises(ProfileInvalidError) as caught:
        load_profile_text(edit(_text()), "sig-glucose.toml")
    error = caught.value
    assert error.file == "sig-glucose.toml"
    assert field in error.fields
    assert reason in str(error)


def test_broken_toml_and_a_misnamed_file_are_refused() -> None:
    with pytest.raises(ProfileInvalidError, match=r"broken\.toml refused: <toml>"):
        load_profile_text("id = ", "broken.toml")
    with pytest.raises(ProfileInvalidError, match="must equal the file name") as caught:
        load_profile_text(_text(), "other-name.toml")
    assert caught.value.fields == ["id"]


def test_a_directory_with_a_bad_file_is_refused_whole(tmp_path: Path) -> None:
    (tmp_path / "sig-glucose.toml").write_text(_text(), "utf-8")
    (tmp_path / "sig-blood-pressure.toml").write_text(
        _text("sig-blood-pressure").replace("1810", "18"), "utf-8"
    )
    with pytest.raises(ProfileInvalidError, match=r"sig-blood-pressure\.toml"):
        load_profiles(tmp_path)


def test_overlapping_name_prefixes_are_refused(tmp_path: Path) -> None:
    (tmp_path / "accu-chek-guide.toml").write_text(_text("accu-chek-guide"), "utf-8")
    clone = _text("accu-chek-guide").replace('id = "accu-chek-guide"', 'id = "meter-clone"')
    (tmp_path / "meter-clone.toml").write_text(clone.replace('"meter+"', '"meter+0"'), "utf-8")
    with pytest.raises(DuplicateProfileError, match="name prefix"):
        load_profiles(tmp_path)


def test_adding_a_compliant_model_is_a_new_file(tmp_path: Path) -> None:
    for name in ("sig-glucose", "accu-chek-guide"):
        (tmp_path / f"{name}.toml").write_text(_text(name), "utf-8")
    new = _text("accu-chek-guide").replace('id = "accu-chek-guide"', 'id = "acme-gluco"')
    (tmp_path / "acme-gluco.toml").write_text(new.replace('"meter+"', '"ACME-G"'), "utf-8")
    profiles = load_profiles(tmp_path)
    matched = profiles.match("ACME-G 42", ["1808"])
    assert matched is not None
    assert matched.id == "acme-gluco"
