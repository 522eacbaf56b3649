"""One calm line instead of a traceback: the message area every view shares.

A view runs each action through `Feedback.guard()` (or wraps a callback with `Feedback.guarded`).
A WorkbenchError's own message is shown as it is: the library writes those for people and never puts
a name, phone number or note in them. Any other exception shows only its type, because its text
could carry a value from a member's row.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import re
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from workbench.errors import WorkbenchError

STYLES = {
    "info": "color:#1f3a5f",
    "ok": "color:#1b5e20",
    "warning": "color:#8a5300",
    "error": "color:#b00020;font-weight:600",
}


def unexpected_message(error: BaseException) -> str:
    """What a person sees when something nobody planned for goes wrong (the type only)."""
    return (
        f"Something unexpected went wrong ({type(error).__name__}). None of your data is shown here. "
        "Try again; if it keeps happening, set WORKBENCH_DEBUG=1, restart, and report it."
    )


class Feedback(widgets.HTML):
    """A one-line message area: info, ok, warning or error, never a traceback.

    Examples:
        >>> note = Feedback()
        >>> with note.guard():
        ...     raise ValueError("boom")
        >>> "ValueError" in note.value and "Traceback" not in note.value
        True
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value="", **kwargs)
        self.add_class("wb-feedback")
        self.last_error: BaseException | None = None

    def show(self, text: str, kind: str = "info") -> None:
        """Show one message; `kind` is info, ok, warning or error."""
        style = STYLES.get(kind, STYLES["info"])
        self.value = f'<div class="wb-{kind}" style="{style};white-space:normal">{html.escape(text)}</div>'

    def ok(self, text: str) -> None:
        self.show(text, "ok")

    def warn(self, text: str) -> None:
        self.show(text, "warning")

    def error(self, text: str) -> None:
        self.show(text, "error")

    def clear(self) -> None:
        self.value = ""
        self.last_error = None

    @property
    def text(self) -> str:
        """The message as plain text (what a person reads), for tests."""
        return html.unescape(_strip_tags(self.value))

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Run a block; turn any error into one readable line here instead of a traceback."""
        try:
            yield
        except WorkbenchError as error:
            self.last_error = error
            self.error(str(error))
        except Exception as error:  # noqa: BLE001 - the last line of defence against a traceback
            self.last_error = error
            if os.environ.get("WORKBENCH_DEBUG"):
                traceback.print_exc()
            self.error(unexpected_message(error))

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`function(*args, **kwargs)` under `guard()`; its result, or None if it failed."""
        with self.guard():
            return function(*args, **kwargs)
        return None

    def guarded(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a widget callback so its errors land here."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(function, *args, **kwargs)

        return wrapper


def _strip_tags(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup)


__all__ = ["Feedback", "unexpected_message"]
