"""The welfare-call workbench: a small library that the notebooks, the CLI and the web app all call.

The names a notebook user needs are here; each lives in the package for its area (see the README's
"Layout"). They load on first use, so `import workbench` stays quick for every CLI command.

Examples:
    >>> import workbench
    >>> "queue" in workbench.__all__ and callable(workbench.queue)
    True
"""

from __future__ import annotations

import importlib

# public name -> "module:attribute"
_ENTRY_POINTS = {
    "connect": "workbench.store.db:connect",
    "session": "workbench.store.db:session",
    "import_members": "workbench.ingest:import_members",
    "import_calls": "workbench.ingest:import_calls",
    "import_services": "workbench.ingest:import_services",
    "queue": "workbench.analysis.needs:queue",
    "set_state": "workbench.analysis.needs:set_state",
    "headline": "workbench.analysis.outreach:headline",
    "service_usage": "workbench.analysis.services:usage",
    "signposting_gaps": "workbench.analysis.services:gaps",
    "volunteer_matches": "workbench.analysis.volunteers:matches",
    "suppress": "workbench.privacy.optouts:suppress",
    "add_optout": "workbench.privacy.optouts:add",
    "withdraw_optout": "workbench.privacy.optouts:withdraw",
    "subject_access": "workbench.privacy.subject_access:export",
    "erase": "workbench.privacy.erasure:erase",
    "export_followups": "workbench.lists.followups:export",
    "next_round": "workbench.lists.followups:next_round",
    "import_returns": "workbench.lists.returns:import_results",
    "list_registry": "workbench.lists.registry:lists",
    "write_breach": "workbench.lists.breach:write_breach",
    "release_report": "workbench.reports:build",
    "preview_report": "workbench.reports:preview",
    "generate_synthetic": "workbench.synthetic:generate",
}

__all__ = sorted(_ENTRY_POINTS)


def __getattr__(name: str):
    try:
        module, attribute = _ENTRY_POINTS[name].split(":")
    except KeyError:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
