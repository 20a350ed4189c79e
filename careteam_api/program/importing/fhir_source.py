"""A practice panel as a FHIR R4 Bundle (JSON) of Patient and Condition resources.

Read with small pydantic models of the elements we use rather than a full FHIR library: unknown elements
are ignored, the ones we need are validated. Mapping:
- MRN: the Patient.identifier whose type has code `MR` (HL7 v2 table 0203); name: the `official` name, else
  the first; birthDate; time zone: the core extension `http://hl7.org/fhir/StructureDefinition/timezone`
  (valueCode, IANA), else the practice's.
- Condition: the ICD-10-CM coding (system `http://hl7.org/fhir/sid/icd-10-cm`); onsetDateTime or
  onsetPeriod.start; subject must point to a Patient of the same Bundle (by fullUrl or `Patient/<id>`).
  Only active conditions (clinicalStatus active, recurrence, relapse, or absent) are imported. FHIR has no
  element for "expected to last 12 months or more", so it is read from the extension
  `EXPECTED_12_MONTHS_EXTENSION` (valueBoolean); without it the condition is stored as not assessed.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from careteam_api.program.errors import ImportFileError
from careteam_api.program.importing.records import (
    ParsedFile,
    ParsedPatient,
    Rejection,
    RowError,
    check_patient,
    drop_repeated_mrns,
    normalise_icd10,
    parse_date,
)
from careteam_api.program.models import Condition

TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
EXPECTED_12_MONTHS_EXTENSION = "urn:rpm-gateway:fhir:condition-expected-12-months"
ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10"})
MR_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACTIVE_STATUSES = frozenset({"active", "recurrence", "relapse"})


class _Element(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Coding(_Element):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class _Concept(_Element):
    coding: list[_Coding] = Field(default_factory=list)
    text: str | None = None


class _Extension(_Element):
    url: str
    value_code: str | None = Field(default=None, alias="valueCode")
    value_boolean: bool | None = Field(default=None, alias="valueBoolean")


class _Identifier(_Element):
    type: _Concept | None = None
    value: str | None = None


class _Name(_Element):
    use: str | None = None
    family: str | None = None
    given: list[str] = Field(default_factory=list)


class _Patient(_Element):
    resource_type: str = Field(alias="resourceType")
    id: str | None = None
    identifier: list[_Identifier] = Field(default_factory=list)
    name: list[_Name] = Field(default_factory=list)
    birth_date: str | None = Field(default=None, alias="birthDate")
    extension: list[_Extension] = Field(default_factory=list)


class _Reference(_Element):
    reference: str | None = None


class _Period(_Element):
    start: str | None = None


class _Condition(_Element):
    resource_type: str = Field(alias="resourceType")
    subject: _Reference | None = None
    code: _Concept | None = None
    clinical_status: _Concept | None = Field(default=None, alias="clinicalStatus")
    onset_date_time: str | None = Field(default=None, alias="onsetDateTime")
    onset_period: _Period | None = Field(default=None, alias="onsetPeriod")
    extension: list[_Extension] = Field(default_factory=list)


def _mrn(patient: _Patient) -> str:
    for identifier in patient.identifier:
        codes = identifier.type.coding if identifier.type else []
        if any(c.code == "MR" and c.system in (None, MR_SYSTEM) for c in codes) and identifier.value:
            return identifier.value
    raise RowError("no medical record number (an identifier with type MR)")


def _patient(resource: dict[str, Any], where: str, default_timezone: str, today: date) -> ParsedPatient:
    patient = _Patient.model_validate(resource)
    names = sorted(patient.name, key=lambda n: n.use != "official")
    if not names:
        raise RowError("no name")
    zone = next(
        (e.value_code for e in patient.extension if e.url == TIMEZONE_EXTENSION and e.value_code), None
    )
    row = check_patient(
        _mrn(patient),
        " ".join(names[0].given),
        names[0].family or "",
        parse_date(patient.birth_date, "birthDate") if patient.birth_date else None,
        zone or default_timezone,
        today,
    )
    return ParsedPatient(where=where, row=row)


def _condition(resource: dict[str, Any]) -> tuple[str, Condition]:
    condition = _Condition.model_validate(resource)
    status = (
        condition.clinical_status.coding[0].code
        if condition.clinical_status and condition.clinical_status.coding
        else None
    )
    if status is not None and status not in ACTIVE_STATUSES:
        raise RowError(f"clinicalStatus {status}: only active conditions are imported")
    codings = [
        c for c in (condition.code.coding if condition.code else []) if c.system in ICD10_SYSTEMS and c.code
    ]
    if not codings:
        raise RowError("no ICD-10-CM coding (system http://hl7.org/fhir/sid/icd-10-cm)")
    if condition.subject is None or not condition.subject.reference:
        raise RowError("no subject")
    onset_text = condition.onset_date_time or (
        condition.onset_period.start if condition.onset_period else None
    )
    lasts = next(
        (e.value_boolean for e in condition.extension if e.url == EXPECTED_12_MONTHS_EXTENSION), None
    )
    return condition.subject.reference, Condition(
        icd10=normalise_icd10(codings[0].code or ""),
        description=codings[0].display or (condition.code.text if condition.code else None),
        onset=parse_date(onset_text, "onset") if onset_text else None,
        expected_12_months=lasts,
    )


def parse_bundle(text: str, *, default_timezone: str, today: date) -> ParsedFile:
    """Every entry parsed or rejected with its index in `Bundle.entry` (from 0, as FHIRPath counts)."""
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"not JSON: {exc}") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ImportFileError("not a FHIR Bundle (resourceType must be Bundle)")
    entries = bundle.get("entry") or []
    parsed = ParsedFile()
    by_reference: dict[str, ParsedPatient] = {}
    rejected_refs: dict[str, str] = {}
    conditions: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind == "Condition":
            conditions.append((where, resource))
            continue
        if kind != "Patient":
            parsed.rejected.append(Rejection(where, f"resource {kind!r} is not a Patient or Condition"))
            continue
        refs = {
            r
            for r in (entry.get("fullUrl"), f"Patient/{resource.get('id')}" if resource.get("id") else None)
            if r
        }
        try:
            patient = _patient(resource, where, default_timezone, today)
        except (RowError, ValidationError) as exc:
            parsed.rejected.append(Rejection(where, _reason(exc)))
            rejected_refs.update({r: where for r in refs})
            continue
        parsed.patients.append(patient)
        by_reference.update({r: patient for r in refs})
    for where, resource in conditions:
        try:
            subject, condition = _condition(resource)
            if subject in rejected_refs:
                raise RowError(f"its patient ({rejected_refs[subject]}) was rejected")
            if subject not in by_reference:
                raise RowError(f"subject {subject!r} is not a Patient in this Bundle")
            owner = by_reference[subject]
            if any(c.icd10 == condition.icd10 for c in owner.conditions):
                raise RowError(f"{condition.icd10} is already listed for this patient")
            owner.conditions.append(condition)
        except (RowError, ValidationError) as exc:
            parsed.rejected.append(Rejection(where, _reason(exc)))
    parsed.rejected.sort(key=lambda r: int(r.where.split()[1]))
    return drop_repeated_mrns(parsed)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
