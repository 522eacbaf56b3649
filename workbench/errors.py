"""The few errors the workbench raises on purpose.

Callers can catch them either way: `except WorkbenchError` for anything the workbench says,
or `except ValueError` / `except RuntimeError` for the usual Python families.

A message names the thing and the fix, and never carries a name, phone number, email or note:
    calls.csv row 12, column "outcome": "maybe" is not an outcome; expected one of: answered, …
"""


class WorkbenchError(Exception):
    """Anything the workbench reports to a person. The message is safe to show as it is."""


class InputError(WorkbenchError, ValueError):
    """A bad file, row, value or argument. Nothing was changed."""


class StoreError(WorkbenchError, RuntimeError):
    """The store cannot be used: missing, locked, wrong passphrase, or written by a newer version."""


class DisclosureError(WorkbenchError, RuntimeError):
    """A release was blocked because it could single out a member. Nothing was written."""
