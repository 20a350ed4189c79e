"""The care plan as a printable HTML page for the patient (CCM requires the patient gets a copy).

Plain HTML with its own print stylesheet and no scripts or external assets, so it prints the same from any
browser and can be stored as the copy that was given. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from careteam_api.program.models import CarePlan

_STYLE = """
body { font-family: Georgia, serif; font-size: 12pt; max-width: 45em; margin: 2em auto; color: #000; }
h1 { font-size: 18pt; margin-bottom: 0; } h2 { font-size: 14pt; border-bottom: 1px solid #000; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #444; padding: 4px; text-align: left; }
.meta { color: #333; } @media print { body { margin: 0; } a { color: #000; } }
"""


_HEADLINE_KEYS = ("description", "goal", "name", "text")
"""Keys whose value reads as the item itself; the other keys follow in parentheses."""


def describe_item(value: Any) -> str:
    """A care-plan entry as plain text: `Essential (primary) hypertension (I10)`, not a dict's repr."""
    if not isinstance(value, dict):
        return str(value)
    headline = next((str(value[k]) for k in _HEADLINE_KEYS if value.get(k)), None)
    if headline is None:
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    rest = [str(v) for k, v in value.items() if k not in _HEADLINE_KEYS and v not in (None, "")]
    return f"{headline} ({', '.join(rest)})" if rest else headline


def _item(value: Any) -> str:
    return escape(describe_item(value))


def _list(title: str, items: list[Any]) -> str:
    if not items:
        return f"<h2>{escape(title)}</h2><p>None recorded.</p>"
    rows = "".join(f"<li>{_item(i)}</li>" for i in items)
    return f"<h2>{escape(title)}</h2><ul>{rows}</ul>"


def _thresholds(thresholds: dict[str, Any]) -> str:
    if not thresholds:
        return "<h2>When we will contact you</h2><p>Your care team uses the standard limits.</p>"
    rows = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{_item(v)}</td></tr>" for k, v in sorted(thresholds.items())
    )
    return (
        f"<h2>When we will contact you</h2><table><tr><th>Reading</th><th>Your limit</th></tr>{rows}</table>"
    )


def render_care_plan(
    plan: CarePlan, *, patient_name: str, practice_name: str, care_team_phone: str | None
) -> str:
    """The whole HTML document for one care-plan version."""
    phone = (
        "<p>Your care team can be reached at any time, day or night:"
        f" <strong>{escape(care_team_phone)}</strong>.</p>"
        if care_team_phone
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Care plan: {escape(patient_name)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>Your care plan</h1><p class="meta">{escape(patient_name)} &middot; {escape(practice_name)}'
        f" &middot; version {plan.version} of {plan.created_at.date().isoformat()}</p>{phone}"
        + _list("Your health problems", plan.problems)
        + _list("Your goals", plan.goals)
        + _list("Your medications", plan.medications)
        + _thresholds(plan.alert_thresholds)
        + (f"<h2>Notes</h2><p>{escape(plan.note)}</p>" if plan.note else "")
        + "</body></html>"
    )
