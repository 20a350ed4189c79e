"""What each role may do. Routes ask for a capability; the table below is the only place roles are listed.

- care_manager (clinical staff): clinical records and the alert queue; logs time; records consent.
- clinician (physician/QHP): the same, and writes care plans.
- biller: billing reports and the month export, consents and time entries (the evidence of a claim), the
  patient list without vitals; never readings, trends, care plans, alerts or FHIR exports.
- admin: reads everything and edits contact details; logs no time (billing-2026.md: only clinical staff and
  the billing practitioner's time counts).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    PATIENT_DIRECTORY = "patient_directory"  # names, MRN, contact details, consent
    CLINICAL_READ = "clinical_read"  # vitals, readings, care plan, devices, alerts, FHIR
    TIME_LOG = "time_log"  # create and correct time entries
    TIME_READ = "time_read"
    CONSENT_WRITE = "consent_write"
    CARE_PLAN_WRITE = "care_plan_write"
    CONTACT_WRITE = "contact_write"
    BILLING = "billing"
    ALERT_WORK = "alert_work"  # claim, acknowledge, resolve, snooze, escalate, reassign


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "care_manager": frozenset(Capability) - {Capability.BILLING, Capability.CARE_PLAN_WRITE},
    "clinician": frozenset(Capability) - {Capability.BILLING},
    "biller": frozenset({Capability.PATIENT_DIRECTORY, Capability.TIME_READ, Capability.BILLING}),
    "admin": frozenset(
        {
            Capability.PATIENT_DIRECTORY,
            Capability.CLINICAL_READ,
            Capability.TIME_READ,
            Capability.CONTACT_WRITE,
            Capability.BILLING,
        }
    ),
}


def allows(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
