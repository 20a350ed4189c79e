"""Loading a practice's panel from CSV or a FHIR R4 Bundle: parse (pure), then load (database)."""
