"""Open the store: a path, a password box for the passphrase, and a button.

Every other view takes a `StoreView` and waits for it to open (`when_open`). Looks share one
read-only connection, kept while they come quickly and closed after a few idle seconds; a change
opens its own connection and closes it at once, so the notebooks, the CLI and the web app can all use
one store side by side.

When WORKBENCH_PASSPHRASE is set (as `make demo` does for the demo store), the box is pre-filled and
the store opens by itself, so a notebook run top to bottom shows real content with no clicks.
"""

from __future__ import annotations

import contextlib
import getpass
import html
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ipywidgets as widgets

from workbench.errors import StoreError
from workbench.store import db, settings, state
from workbench.store.state import transaction
from workbench.widgets.feedback import Feedback

DEMO_STORE = Path("data") / "demo.duckdb"
WIDE = widgets.Layout(width="34em")


def default_path() -> Path:
    """WORKBENCH_DB if set; otherwise the demo store, looked for here and one folder up.

    Notebooks run with notebooks/ as their working folder, while the demo store lives in ../data.
    """
    if os.environ.get("WORKBENCH_DB"):
        return Path(os.environ["WORKBENCH_DB"])
    here = Path.cwd()
    for base in (here, here.parent):
        if (base / DEMO_STORE).exists():
            return base / DEMO_STORE
    return (here.parent if here.name == "notebooks" else here) / DEMO_STORE


def default_actor() -> str:
    """Who is acting, for the audit log: WORKBENCH_USER, or the login name."""
    return os.environ.get("WORKBENCH_USER") or getpass.getuser()


class Reader:
    """One read-only connection kept between looks, closed when idle or before a write.

    Opening a connection costs ~15 ms, which a person feels on every filter change. While it is
    open, no other process can write the store (DuckDB's file lock), so what it reads cannot go
    stale; to let the CLI and other notebooks write, it is closed after `IDLE_SECONDS` without use,
    and at once before this kernel writes.
    """

    IDLE_SECONDS = 5.0

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection | None = None
        self.opened = 0  # connections opened so far (tests, the benchmark)
        self._lock = threading.RLock()
        self._users = 0
        self._timer: threading.Timer | None = None

    @contextlib.contextmanager
    def borrow(self, open_: Callable[[], duckdb.DuckDBPyConnection]) -> Iterator[duckdb.DuckDBPyConnection]:
        """The kept connection (opened with `open_()` if there is none) for one look."""
        with self._lock:
            self._cancel_timer()
            if self.con is None:
                self.con = open_()
                self.opened += 1
            self._users += 1
            con = self.con
        try:
            yield con
        except BaseException:
            self.close()  # a failed look may leave the connection unusable: the next one reopens
            raise
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self.con is not None:
                    self._timer = threading.Timer(self.IDLE_SECONDS, self._close_if_idle)
                    self._timer.daemon = True
                    self._timer.start()

    def close(self) -> None:
        """Close the kept connection now (before a write, or when idle)."""
        with self._lock:
            self._cancel_timer()
            if self.con is not None:
                self.con.close()
                self.con = None

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._users == 0:
                self.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


_READERS: dict[Path, Reader] = {}
_READERS_LOCK = threading.Lock()


def close_readers() -> None:
    """Close every kept read-only connection of this kernel (before opening a store another way)."""
    with _READERS_LOCK:
        readers = list(_READERS.values())
    for reader in readers:
        reader.close()


@dataclass(frozen=True)
class Store:
    """An opened store: where it is and how to open it again for each action.

    Looks share one kept read-only connection (`Reader`); a change opens a read-write connection
    for itself and closes it at once.
    """

    path: Path
    passphrase: str | None
    actor: str

    @property
    def reader(self) -> Reader:
        """The kept reader of this file, shared by every Store on it in this kernel (a write by one
        must close the others' reader: DuckDB will not open a file read-only and read-write at once)."""
        with _READERS_LOCK:
            return _READERS.setdefault(self.path.resolve(), Reader())

    @contextlib.contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for one look (kept open between looks; see `Reader`)."""
        # One look reads the store's state once: nothing can write the file while it is open read-only.
        with self.reader.borrow(lambda: db.connect(self.path, self.passphrase, read_only=True)) as con, \
                state.pinned(con):
            yield con

    @contextlib.contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection for one change, closed (and the store released) afterwards."""
        self.reader.close()  # one process cannot hold the file read-only and read-write at once
        with db.session(self.path, self.passphrase) as con:
            yield con

    def __repr__(self) -> str:  # never show the passphrase, even in a notebook's repr
        return f"Store(path={str(self.path)!r}, actor={self.actor!r})"


class StoreView(widgets.VBox):
    """Path + passphrase + Open; builds the demo store when there is none.

    Args:
        path: the store file; default `default_path()`.
        passphrase: pre-fill the box; default WORKBENCH_PASSPHRASE (the box stays empty if unset).
        auto_open: open at once; default: when a passphrase was pre-filled and the file exists.
        show_path: let the user change the path (the web app fixes it).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        passphrase: str | None = None,
        *,
        auto_open: bool | None = None,
        show_path: bool = True,
    ) -> None:
        self.store: Store | None = None
        self._listeners: list[Callable[[Store], None]] = []
        self._watchers: list[Callable[[object], None]] = []
        preset = passphrase if passphrase is not None else (db.env_passphrase() or "")
        self.path_box = widgets.Text(
            value=str(path or default_path()),
            description="Store file",
            layout=WIDE,
            style={"description_width": "8em"},
        )
        self.passphrase_box = widgets.Password(
            value=preset,
            description="Passphrase",
            placeholder="passphrase",
            layout=WIDE,
            style={"description_width": "8em"},
        )
        self.actor_box = widgets.Text(
            value=default_actor(),
            description="Your name",
            tooltip="recorded in the audit log with every change you make",
            layout=WIDE,
            style={"description_width": "8em"},
        )
        self.open_button = widgets.Button(description="Open the store", button_style="primary", icon="unlock")
        self.demo_button = widgets.Button(
            description="Build the demo store",
            icon="magic",
            tooltip="fake members and calls only; passphrase 'demo'",
        )
        self.feedback = Feedback()
        self.summary = widgets.HTML()
        self.progress = widgets.Output()
        self.open_button.on_click(lambda _: self.open_store())
        self.demo_button.on_click(lambda _: self.build_demo())
        self.passphrase_box.continuous_update = False
        self.passphrase_box.observe(lambda _: self.open_store(), names="value")
        rows = [self.path_box] if show_path else []
        buttons = [self.open_button, self.demo_button] if show_path else [self.open_button]
        super().__init__(
            [
                *rows,
                self.passphrase_box,
                self.actor_box,
                widgets.HBox(buttons),
                self.progress,
                self.feedback,
                self.summary,
            ]
        )
        self.add_class("wb-store")
        self._show_demo_button()
        if auto_open is None:
            auto_open = bool(preset) and Path(self.path_box.value).exists()
        if auto_open:
            self.open_store()

    @property
    def path(self) -> Path:
        return Path(self.path_box.value.strip()).expanduser()

    def when_open(self, callback: Callable[[Store], None]) -> None:
        """Call `callback(store)` when the store opens (now, if it already is)."""
        self._listeners.append(callback)
        if self.store is not None:
            self.feedback.call(callback, self.store)

    def when_changed(self, callback: Callable[[object], None]) -> None:
        """Call `callback(source)` whenever a view reports that it changed the store."""
        self._watchers.append(callback)

    def changed(self, source: object) -> None:
        """A view changed the store (a list exported, an opt-out added): let the others re-read."""
        for watcher in self._watchers:
            watcher(source)

    def open_store(self) -> Store | None:
        """Check the passphrase by opening the store read-only once; then tell every waiting view."""
        if not self.passphrase_box.value and not self.path.exists():
            self._show_demo_button()
            self.feedback.warn(
                f"There is no store at {self.path} yet. Build the demo store, or give the "
                "path of your organisation's store."
            )
            return None
        with self.feedback.guard():
            store = Store(
                self.path, self.passphrase_box.value or None, self.actor_box.value.strip() or "unknown"
            )
            with store.read() as con:
                info = db.store_info(con, store.path)
            self.store = store
            self.summary.value = _summary_html(info)
            self.feedback.ok(f"Opened {store.path.name}. Everything below now uses this store.")
            for listener in self._listeners:
                self.feedback.call(listener, store)
            return store
        return None

    def build_demo(self) -> Store | None:
        """Build the demo store (fake people only, passphrase 'demo') at the path, then open it."""
        from workbench import synthetic
        from workbench.synthetic import demo

        with self.feedback.guard():
            self.feedback.show("Building the demo store: about a minute. Every person in it is made up.")
            self.progress.clear_output()
            with self.progress:
                org = synthetic.generate("demo", seed=2020, progress=True)
                demo.rebuild(self.path, org)
            self.progress.clear_output()
            self.passphrase_box.value = db.DEMO_PASSPHRASE  # opens it, through the observer
            if self.store is None or self.store.path != self.path:
                return self.open_store()
            return self.store
        return None

    def _show_demo_button(self) -> None:
        self.demo_button.layout.display = None if not self.path.exists() else "none"


class StoreBound(widgets.VBox):
    """A view that waits for the store: subclasses set `self.feedback` and override `refresh()`."""

    store: Store | None = None
    store_view: StoreView | None = None
    feedback: Feedback
    follows_changes = False  # re-read when another view changes the store (registers, logs)
    lazy = False  # wait for `show()` before the first read (a tab not yet looked at)
    _stale = True

    def bind(self, store_view: StoreView, *, lazy: bool = False) -> None:
        """Refresh when the store opens (at once, if it already is), and after others' changes if asked.

        Args:
            lazy: do not read until `show()` is called, so a page with many tabs opens quickly.
        """
        self.store_view, self.lazy = store_view, lazy
        store_view.when_changed(self._other_changed)
        store_view.when_open(self.attach)

    def show(self) -> None:
        """The view is now on screen: read the store if it has not yet (or has changed since)."""
        self.lazy = False
        if self.store is not None and self._stale:
            self.attach(self.store)

    def _other_changed(self, source: object) -> None:
        if self.follows_changes and source is not self and self.store is not None:
            if self.lazy:
                self._stale = True
                return
            with self.feedback.guard():
                self.refresh()

    def announce_change(self) -> None:
        """Tell the other views on this store that this one changed it."""
        if self.store_view is not None:
            self.store_view.changed(self)

    def attach(self, store: Store) -> None:
        self.store = store
        self._stale = True
        if self.lazy:
            return
        with self.feedback.guard():
            self.refresh()
            self._stale = False

    def refresh(self) -> None:
        """Re-read what the view shows; called when the store opens."""

    @property
    def opened(self) -> Store:
        """The open store, or a StoreError saying how to open it."""
        if self.store is None:
            raise StoreError("Open the store first: type its passphrase in the box at the top.")
        return self.store


def _summary_html(info: db.StoreInfo) -> str:
    counts = info.row_counts
    lock = "encrypted" if info.encrypted else "<b style='color:#b00020'>NOT encrypted</b>"
    facts = [
        ("members", counts.get("members", 0)),
        ("calls", counts.get("calls", 0)),
        ("services", counts.get("services", 0)),
        ("opt-outs", counts.get("optouts", 0)),
        ("lists issued", counts.get("lists", 0)),
    ]
    cells = "".join(f"<span style='margin-right:1.5em'><b>{n:,}</b> {label}</span>" for label, n in facts)
    return f"<div>{html.escape(info.path.name)} ({lock}, schema {info.schema_version}): {cells}</div>"


class SettingsView(StoreBound):
    """The organisation's settings (data-protection contact, shred-by days, ...), with a Save button."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.boxes = {
            key: widgets.Text(
                description=key, tooltip=help_text, layout=WIDE, style={"description_width": "12em"}
            )
            for key, (_, help_text) in settings.KNOWN.items()
        }
        self.save_button = widgets.Button(description="Save settings", icon="save")
        self.save_button.on_click(self.feedback.guarded(lambda _: self.save()))
        super().__init__([*self.boxes.values(), self.save_button, self.feedback])
        self.add_class("wb-settings")
        self.bind(store_view)

    def refresh(self) -> None:
        with self.opened.read() as con:
            values = settings.all(con)
        for key, value in values.items():
            self.boxes[key].value = value

    def save(self) -> None:
        """Write every changed setting (each is checked by the library first)."""
        with self.opened.write() as con:
            current = settings.all(con)
            changed = [key for key, box in self.boxes.items() if box.value.strip() != current[key]]
            with transaction(con):
                for key in changed:
                    settings.set(con, key, self.boxes[key].value, actor=self.opened.actor)
        self.feedback.ok(f"Saved {len(changed)} setting(s)." if changed else "Nothing changed.")


__all__ = ["Reader", "SettingsView", "Store", "StoreBound", "StoreView", "close_readers", "default_path",
           "default_actor"]
