"""The default rule set of domain/alert-rules.md, as data. Indexes are derived from the tuples, never kept
by hand."""

from __future__ import annotations

from alerts.rules import bp, glucose, quality, time_based, weight
from alerts.rules.base import ReadingRule, RuleSpec

READING_RULES: tuple[ReadingRule, ...] = (*bp.RULES, *glucose.RULES, *weight.RULES, *quality.RULES)
ALL_RULES: tuple[RuleSpec, ...] = (*READING_RULES, *time_based.CHECKS, *time_based.ENGINE)
BY_NAME: dict[str, RuleSpec] = {rule.name: rule for rule in ALL_RULES}
