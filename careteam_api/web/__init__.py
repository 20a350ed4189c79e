"""The care team's web console: server-rendered pages (Jinja2) with a little JavaScript for charts and the
review timer. Pages use the same dependencies (session, tenancy, audit) as the JSON API."""
