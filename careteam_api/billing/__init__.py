"""CCM and RPM billing: a pure engine over one month of one practice's activity, and its reports.

The engine (`engine.evaluate`) reads a `MonthInput` and touches no database, so an auditor can re-run a
month's decision from the exported file alone (`rpm billing export` then `rpm billing evaluate`).
"""
