"""The exception root of the alert engine; subclasses carry the data a caller needs to act."""

from __future__ import annotations


class AlertError(Exception):
    """Anything the alert engine refuses or cannot do; the message says what to fix."""


class RuleConfigError(AlertError):
    """Rule overrides (practice or care plan) that do not validate; `problems` lists each as 'where: why'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class WindowError(AlertError):
    """Readings that cannot be evaluated together (a time span beyond what the search keys can hold)."""


class LoadError(AlertError):
    """The readings window came back in a shape the loader does not understand (schema drift)."""


class NotFound(AlertError):
    """No such alert, user or preset (or not one the user may see: tenancy hides it)."""


class Forbidden(AlertError):
    """The user may not do this: another practice, an inactive account, or a role without the right."""


class InvalidTransition(AlertError):
    """The alert is not in a state that allows the action (e.g. acknowledging a resolved alert)."""

    def __init__(self, alert_id: int, state: str, action: str) -> None:
        super().__init__(f"alert {alert_id} is {state}: cannot {action} it")
        self.alert_id = alert_id
        self.state = state
        self.action = action


class AlreadyClaimed(InvalidTransition):
    """Another care manager claimed the alert first."""

    def __init__(self, alert_id: int, state: str, claimed_by: object) -> None:
        super().__init__(alert_id, state, "claim")
        self.claimed_by = claimed_by
