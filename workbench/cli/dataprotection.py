"""Subcommands for this area; each calls one library function."""

from __future__ import annotations


def register(sub) -> None:
    """Add this area's subcommands to the parser."""
