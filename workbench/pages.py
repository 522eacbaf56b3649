"""Every page the workbench writes comes from a Jinja2 template in workbench/templates/, autoescaped.

Values are escaped by Jinja2 as they are placed, never by hand at each call site, so a name, ward,
purpose or note from a file cannot become markup: not in the HTML pages, and not in the Markdown
breach report either (a `<script>` in a list's purpose reaches the .md as `&lt;script&gt;`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    import jinja2


def css_string(text: object) -> Markup:
    """A CSS string literal for text: anything but letters, digits and plain punctuation is escaped.

    It goes inside a <style> element, where HTML entities are not decoded, so it is marked safe
    here rather than HTML-escaped again.

    Examples:
        >>> str(css_string('Ward "A"; }'))
        '"Ward \\\\22 A\\\\22 ; \\\\7d "'
    """
    escaped = "".join(c if c.isalnum() or c in " .,:;()/@_" else f"\\{ord(c):x} " for c in str(text))
    return Markup(f'"{escaped}"')  # noqa: S704 - every character that is not plainly inert is escaped above


def md_text(text: object) -> str:
    """Text for Markdown prose: lines joined, and the backslash and square brackets escaped.

    Jinja2's escaping already stops raw HTML and <autolinks>. This stops the rest of what a value
    could become in a Markdown viewer: a link whose text hides where it goes, an image fetched from
    someone's server when the report is opened (telling them it was read), or a new heading or list
    started on a line of its own.

    Examples:
        >>> md_text("[Verify](https://x.example)\\n# Done")
        '\\\\[Verify\\\\](https://x.example) # Done'
    """
    joined = " ".join(str(text).splitlines())
    return joined.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def md_cell(text: object) -> str:
    """Text for one Markdown table cell: as `md_text`, and pipes escaped.

    Examples:
        >>> md_cell("a|b\\nc")
        'a\\\\|b c'
    """
    return md_text(text).replace("|", "\\|")


@functools.cache
def environment() -> jinja2.Environment:
    """The one template environment: autoescape always on, undefined names an error."""
    import jinja2  # here, not at the top: a command that writes no page does not wait for it

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("workbench", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["css_string"] = css_string
    env.filters["md_cell"] = md_cell
    env.filters["md_text"] = md_text
    return env


def render(template: str, **context: object) -> str:
    """The page `template` (a file in workbench/templates/) filled with `context`, values escaped.

    Examples:
        >>> "&lt;script&gt;" in render("sar.html", generated_at="<script>", contact="", sections=[])
        True
    """
    return environment().get_template(template).render(**context)


def source(template: str) -> str:
    """A template's own text (the release scan allows the words a page is built from)."""
    return environment().loader.get_source(environment(), template)[0]


__all__ = ["css_string", "environment", "md_cell", "md_text", "render", "source"]
