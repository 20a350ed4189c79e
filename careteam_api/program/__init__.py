"""CCM/RPM program records: care teams, users, chronic conditions, consent, care plans, RPM episodes and
the time log. Repository functions take a psycopg connection and never commit: the caller owns the
transaction."""
