-- The alert engine keeps its patients' readings windows in memory and, for each committed batch, reads only
-- the readings ingested since it last read them (alerts/window_cache.py): a few rows per patient, found here.
CREATE INDEX readings_patient_ingested_idx ON readings (patient_id, ingested_at);
