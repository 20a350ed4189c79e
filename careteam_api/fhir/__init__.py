"""FHIR R4 export of readings: Observations (LOINC, UCUM) in a Bundle with the Patient and Devices."""
