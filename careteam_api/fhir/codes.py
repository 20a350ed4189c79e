"""Codes of the FHIR export (domain/alert-rules.md, "Codes for interoperability"), one table per system."""

from __future__ import annotations

from typing import Final

LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
MDC: Final = "urn:iso:std:iso:11073:10101"  # IEEE 11073-10101 nomenclature
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
# HL7 Personal Health Device IG: the measuring Device points to the gateway that forwarded its data.
PHD_GATEWAY_EXTENSION: Final = "http://hl7.org/fhir/uv/phd/StructureDefinition/GatewayDevice"
DEVICE_ID_SYSTEM: Final = "urn:rpm-gateway:device-id"
HUB_ID_SYSTEM: Final = "urn:rpm-gateway:hub-id"
MRN_SYSTEM: Final = "urn:rpm-gateway:mrn"

# metric -> (LOINC code, display, UCUM unit, MDC code or None)
BP_PANEL: Final = ("85354-9", "Blood pressure panel with all children optional")
COMPONENTS: Final[dict[str, tuple[str, str, str, str | None]]] = {
    "systolic_mmhg": ("8480-6", "Systolic blood pressure", "mm[Hg]", "150021"),
    "diastolic_mmhg": ("8462-4", "Diastolic blood pressure", "mm[Hg]", "150022"),
}
SINGLE: Final[dict[str, tuple[str, str, str, str | None]]] = {
    "pulse_bpm": ("8867-4", "Heart rate", "/min", "149546"),
    "weight_kg": ("29463-7", "Body weight", "kg", "188736"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", None),
    "glucose_mg_dl": ("41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer", "mg/dL", "160184"),
}
# US Core files glucose under laboratory; the rest are vital signs.
CATEGORY_OF: Final[dict[str, str]] = {"glucose_mg_dl": "laboratory"}
