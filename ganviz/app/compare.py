"""The window's compare mode: what it keeps of a comparison, the dialog that starts one.

:class:`Comparison` holds what the views draw of each variant (a
:class:`~ganviz.core.history.History` and the latest snapshot per member),
fed by the controller with the events of the members (``event.member``).
:class:`CompareDialog` picks one key of :data:`~ganviz.core.variants.COMPARE_KEYS`
and 2 to 6 values (8 seeds): a bad value is one line in the dialog, which
stays open with what was typed. No torch.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout,
)

from ganviz.core.config import Config, ConfigError
from ganviz.core.datakey import with_p_data
from ganviz.core.events import Finished, Started
from ganviz.core.history import History, MetricsCsv
from ganviz.core.variants import COMPARE_KEYS, label, most_values, parse_compare


class Comparison:
    """A comparison as the window sees it: its variants, their histories and latest snapshots.

    Parameters
    ----------
    key : str
        The compared key.
    configs : list of Config
        One per variant (:func:`~ganviz.core.variants.parse_compare`).
    """

    def __init__(self, key: str, configs: list[Config]) -> None:
        self.key = key
        self.values = tuple(getattr(c, key) for c in configs)
        self.labels = [label(key, c) for c in configs]
        self.histories = [History() for _ in configs]
        self.latest: list = [None] * len(configs)
        self.finished: set[int] = set()
        self.results: list = [None] * len(configs)  # each finished member's final metrics
        self.version = 0

    @classmethod
    def parse(cls, text: str, base: Config) -> "Comparison":
        """``KEY=V1,V2[,...]`` from ``base``; ConfigError (one line) for bad input."""
        key = text.partition("=")[0].strip()
        key, configs = parse_compare(text, base, most=most_values(key, window=True))
        return cls(key, configs)

    @property
    def seeds(self) -> bool:
        """A comparison over seeds (drawn with a raster and mean +- s.e.)."""
        return self.key == "seed"

    def __len__(self) -> int:
        return len(self.labels)

    def keep(self, event) -> bool:
        """Keep member ``event.member``'s snapshot; True when it starts a new run."""
        i, snap = event.member, event.snapshot
        if not 0 <= i < len(self.histories):
            return False
        new = isinstance(event, Started)
        h = self.histories[i]
        if new:
            h.clear()
            h.run_id = snap.run_id
            self.finished.discard(i)
            self.results[i] = None
        elif snap.run_id != h.run_id:
            return False  # a late event of the run before
        h.add(snap)
        self.latest[i] = snap
        if isinstance(event, Finished):
            self.finished.add(i)
            self.results[i] = dict(event.metrics)
        self.version += 1
        return new

    def summary(self) -> dict:
        """The headless comparison's object: ``compare`` and ``runs`` (each variant's name
        and the final metrics its single headless run prints; the latest snapshot's
        metrics for a variant not finished)."""
        runs = []
        for i, text in enumerate(self.labels):
            entry = {"variant": text}
            snap = self.latest[i]
            if self.results[i] is not None:
                entry.update(self.results[i])
            elif snap is not None:
                entry.update(snap.metrics, step=snap.step, config=snap.config)
            if "config" in entry:  # an estimated target says so, as a single run's object
                entry = with_p_data(entry, entry["config"]["data"])
            runs.append(entry)
        return {"compare": {"key": self.key, "values": list(self.values)}, "runs": runs}

    def mark(self, step: int, text: str) -> None:
        """An event marker (a change, a freeze) at ``step`` on every variant's series."""
        for h in self.histories:
            h.mark(step, text)

    def finals(self, name: str = "modes_captured") -> list:
        """Each variant's latest value of metric ``name`` (None where not measured)."""
        return [None if s is None else s.metrics.get(name) for s in self.latest]

    def write_csv(self, handle) -> int:
        """The variants' histories as one CSV (a ``variant`` column first); rows written."""
        rows = 0
        for i, (text, h) in enumerate(zip(self.labels, self.histories)):
            steps, measured = h.columns()
            writer = MetricsCsv(handle, lead=("variant", text), header=i == 0)
            rows += writer.write(steps, measured)
        return rows


#: The controls' widget of a compared key, where its name differs from the key.
_WIDGETS = {"batch_size": "batch", "gp_weight": "gp"}


def mark_compared(panel, key: str | None) -> None:
    """Disable the widget of the compared ``key`` in ``panel`` (the dock, the lecture bar):
    each variant keeps its own value; None enables them all again."""
    for k in COMPARE_KEYS:
        widget = getattr(panel, _WIDGETS.get(k, k), None)
        if widget is None or not hasattr(widget, "setEnabled"):
            continue
        widget.setEnabled(k != key)
        tip = widget.property("ganviz_tip")
        if k == key:
            if tip is None:
                widget.setProperty("ganviz_tip", widget.toolTip())
            widget.setToolTip(f"{k} is the compared key: each variant keeps its own value")
        elif tip is not None:  # the control's own tooltip again
            widget.setToolTip(tip)
            widget.setProperty("ganviz_tip", None)


class CompareDialog(QDialog):
    """Compare > New comparison: one key, 2 to 6 values (8 seeds), from the current scenario."""

    def __init__(self, base: Config, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare variants")
        self.base = base
        self.result_comparison: Comparison | None = None
        self.key = QComboBox()
        self.key.addItems(list(COMPARE_KEYS))
        self.values = QLineEdit()
        self.values.setPlaceholderText("e.g. minimax, nonsaturating")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#ff8a80;")
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Key", self.key)
        form.addRow("Values", self.values)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.hint)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.key.currentTextChanged.connect(self._on_key)
        self._on_key(self.key.currentText())

    def _on_key(self, key: str) -> None:
        self.hint.setText(f"Now {key} = {getattr(self.base, key)}. Give 2 to "
                          f"{most_values(key, window=True)} values, separated by commas; every "
                          "other setting is the current scenario's.")
        self.error.setText("")

    def text(self) -> str:
        return f"{self.key.currentText()}={self.values.text()}"

    def accept(self) -> None:  # noqa: D102 - Qt name
        """Validate; a bad entry shows one line and the dialog stays, with what was typed."""
        try:
            self.result_comparison = Comparison.parse(self.text(), self.base)
        except ConfigError as exc:
            self.error.setText(str(exc).replace("--compare ", ""))
            return
        super().accept()


# --- the controller's compare mode (Controller delegates here) ------------------------------


def start(controller, text_or_comparison) -> bool:
    """Start comparing ``KEY=V1,V2,...`` (or a Comparison) from the controller's config.

    A bad entry is one warning and changes nothing; True when it started.
    """
    comparison = text_or_comparison
    if isinstance(comparison, str):
        try:
            comparison = Comparison.parse(comparison, controller.config)
        except ConfigError as exc:
            controller.message.emit("warn", f"Not compared: {exc}")
            return False
    controller.comparison = comparison
    controller.supervisor.variants = (comparison.key, comparison.values)
    controller.comparison_changed.emit(comparison)
    controller.reset()
    return True


def leave(controller) -> None:
    """Back to one run of the controller's config."""
    if controller.comparison is None:
        return
    controller.comparison = None
    controller.supervisor.variants = None
    controller.comparison_changed.emit(None)
    controller.reset()


def on_member_event(controller, event) -> None:
    """One fresh event of member ``event.member``: keep its snapshot, say what it means once."""
    from ganviz.core.events import SNAPSHOT_EVENTS, Diverged, Errored, NotApplied, Paused

    comparison = controller.comparison
    if comparison is None or event.member >= len(comparison):
        return
    if isinstance(event, SNAPSHOT_EVENTS):
        if comparison.keep(event):
            seeded = controller._seed_history  # a session's histories, one per member
            h = comparison.histories[event.member]
            if seeded is not None and seeded[0] == event.snapshot.run_id:
                h.load(*seeded[1][event.member], run_id=event.run_id)
                h.add(event.snapshot)
            from ganviz.app.controller import start_label

            label = start_label(event.reason)  # a reset, a cold change, a session opened
            if label:
                h.mark(event.snapshot.step, label)
            if event.member == 0:
                controller.new_run.emit(event.snapshot)
        controller.latest = comparison.latest[0]
        controller.version += 1
        if event.member == 0:
            controller._rate(event.snapshot.step)
    name = comparison.labels[event.member]
    if isinstance(event, Diverged):
        controller.message.emit("error", f"{name}: {event.text}")
        controller.state_changed.emit()
    elif isinstance(event, NotApplied) and event.member == 0:
        controller.message.emit("warn", f"Not applied: {event.reason}")
        controller.config_changed.emit(controller.config)
    elif isinstance(event, Paused) and event.member == 0:
        controller.state_changed.emit()
    elif isinstance(event, Finished) and len(comparison.finished) == len(comparison):
        controller.message.emit("info", f"Finished {event.snapshot.step:,} iterations of "
                                        f"{len(comparison)} variants. Press Play or Reset to "
                                        "train again.")
        controller.state_changed.emit()
        controller.finished.emit(event)
    elif isinstance(event, Errored):
        controller.message.emit("error", f"Training stopped by an error: {event.text}.")
        controller.state_changed.emit()


def write_session(controller, event, path) -> None:
    """Write the comparison's session from a StateReady ({"members": [...]}) and the histories."""
    from ganviz.core.session import save_comparison

    c = controller.comparison
    if event.state is None:
        controller.message.emit("error", f"Session not saved: {event.reason}.")
        return
    if c is None:
        return
    columns = []
    for h in c.histories:
        steps, measured = h.columns()
        keep, keep_m = steps["step"] <= event.step, measured["step"] <= event.step
        columns.append(({k: v[keep] for k, v in steps.items()},
                        {k: v[keep_m] for k, v in measured.items()}))
    try:
        save_comparison(path, controller.config, c.key, c.values, event.step,
                        event.state["members"], columns, preset=controller.preset)
    except OSError as exc:
        controller.message.emit("error", f"Session not saved: could not write {path} "
                                         f"({exc.strerror or exc}).")
        return
    controller.message.emit("info", f"Comparison saved to {path} (step {event.step:,}).")


def open_session(controller, session, path) -> None:
    """Replace the run by a comparison's session already read: every member from its state."""
    c = session.comparison
    comparison = Comparison(c["key"], [session.config.replace(**{c["key"]: v})
                                       for v in c["values"]])
    sup = controller.supervisor
    sup.config = session.config
    controller.preset = session.preset
    sup.frozen = set(c["members"][0]["state"].get("frozen", ()))
    controller.comparison = comparison
    sup.variants = (comparison.key, comparison.values)
    controller.config_changed.emit(controller.config)
    controller.comparison_changed.emit(comparison)
    controller.session_opened.emit(controller.preset, "".join(sorted(controller.frozen)))
    state = {"members": [m["state"] for m in c["members"]]}
    history = [(m["history"], m["measured"]) for m in c["members"]]
    if controller.worker is None:
        controller._initial = (state, "session", history)
    else:
        controller._restart(state, "session", history)
    controller.message.emit("info", f"Opened the comparison {path} at step {session.step:,}.")
