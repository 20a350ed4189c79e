"""The exception root of billing: everything it raises on purpose is a `BillingError`."""

from __future__ import annotations


class BillingError(Exception):
    """A billing input, export or report that cannot be produced as asked."""


class InvalidBillingInput(BillingError):
    """The month's input file is not valid; the message names the field and says what is wrong."""


class PracticeNotFound(BillingError):
    """`--practice` named no practice in the database."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"no practice with id or name {reference!r}")
        self.reference = reference
