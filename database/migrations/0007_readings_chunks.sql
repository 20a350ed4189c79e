-- Readings in 28-day chunks instead of 7 (new chunks only; older ones keep their width until retention drops
-- them). A query pays per chunk it touches, in planning or at executor start-up, whatever the rows: a
-- clinician's 90-day trend touched 14 chunks and spent most of its time on them (2.5 ms of server CPU for
-- ~120 rows, 1.4 ms in 28-day chunks; bench/README.md, API). A chunk holds 28 days of every patient's
-- readings: at 10,000 patients and ~5 readings a day, 1.4 M rows, whose indexes still fit in memory.
SELECT set_chunk_time_interval('readings', INTERVAL '28 days');
