"""The dynamics lab window: controls for a toy game beside its plots (views/dynamics.py).

Opened from the main window (View > Dynamics lab) or alone with
``python main.py --dynamics dirac`` (``--screenshot FILE`` saves it and quits).
Every control redraws at once: the toy's numbers take milliseconds. A setting
the toy does not accept (k > 1 with a joint update rule, say) is named in the
message line and the plots keep the last accepted game.

Three tabs: the game (field, trajectory, distance, spectra), small multiples
(one key varied over a few values, side by side), and the live spectrum of the
real run (eigenvalues of its field Jacobian, computed by the training process on
request: ganviz/core/spectrum.py; in compare mode, of the variant chosen beside
"Spectrum now"). Opened from the main window, "follow the run"
keeps the toy on the run's loss, k, rates, update rule and regularisers as they
change (the controller's ``applied`` signal), with the run's sgd (momentum 0.9);
what the toy cannot model (Adam's or RMSprop's state, EMA, spectral norm) is
named in the message line. Nothing
here imports torch.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from ganviz.core import dynamics as dyn
from ganviz.core.config import ConfigError
from ganviz.views import style
from ganviz.views.dynamics import DynamicsView, MultiplesView, SpectrumView

#: The controls' tooltips: each option's formula on the Dirac-GAN.
TIPS = {
    "kind": "dirac: p_data = delta_0, G = delta_theta, D(x) = psi x (Mescheder et al. 2018).<br>"
            "bilinear: min_theta max_phi theta*phi (Gidel et al. 2019).",
    "loss": "minimax: v = (-psi f'(psi theta), theta f'(psi theta)), f(t) = -log(1 + e^-t)<br>"
            "nonsaturating: v = (-psi f'(-psi theta), theta f'(psi theta))<br>"
            "wgan: v = (-psi, theta); hinge: (-psi, theta 1[psi theta < 1]); lsgan: least squares",
    "update": "alternating: k D steps, then one G step (Algorithm 1)<br>"
              "simultaneous: x += H w(x)<br>extragradient: x += H w(x + H w(x))<br>"
              "optimistic: x += 2 H w(x) - H w(x_prev)<br>"
              "with momentum mu, each step goes through the player's buffer: "
              "m <- mu m + w, x += H m",
    "k": "D steps per G step (alternating only)",
    "lr_d": "step size of psi (D)", "lr_g": "step size of theta (G)",
    "momentum": "sgd's momentum mu (torch.optim.SGD): each player's buffer m <- mu m + w, "
                "then x += lr m; the update operator acts on (theta, psi, m_theta, m_psi).<br>"
                "0.9: the run's sgd; 0: plain gradient steps (the papers' toys)",
    "r1": "R1: (gamma/2) E_data |grad_x D|^2 = (gamma/2) psi^2 on D",
    "r2": "R2: (gamma/2) E_G |grad_x D|^2 = (gamma/2) psi^2 on D",
    "instance_noise": "std sigma of Gaussian noise on real and generated samples; "
                      "adds 2 sigma^2 f''(0) to the Jacobian's psi-psi entry",
    "consensus": "consensus optimisation: w = v - gamma J^T v (both descend |v|^2 / 2)",
    "steps": "iterations drawn", "theta0": "start theta (or drag the marker)",
    "psi0": "start psi (or drag the marker)",
    "psi_clip": "clip psi to [-c, c] after every update (0: off; Gidel's notebook uses 1)",
    "follow": "Keep the toy on the main window's loss, k, learning rates, update rule and "
              "regulariser weights as they change (a preset too). Editing one of them here "
              "stops following.",
    "vary": "The setting that differs between the small multiples",
    "values": "Its values, separated by commas (1 to 6); each panel is titled by its value",
    "spectrum_now": "Eigenvalues of the Jacobian of the real run's gradient field at its "
                    "current weights (float64, on one minibatch), computed beside training",
    "every": "Take a spectrum every N seconds while the lab is open (0: only on request)",
    "variant": "The variant of the comparison whose spectrum is taken (the toy follows its "
               "settings too)",
    "eigen_k": "Eigenvalues of largest modulus found by Arnoldi on a network too large for "
               "the exact method (docs/performance.md)",
}
#: The run's keys the lab follows (``lr_d``, ``lr_g`` and the toy's own regularisers).
FOLLOWED = ("loss", "update", "k", "lr_d", "lr_g", "r1", "r2", "instance_noise", "consensus",
            "momentum")
#: Keys of the run the toy does not model, with the value that changes nothing.
UNMODELLED = {"ema": 0.0, "spectral_norm": False}
#: Small multiples: the keys one may vary and the values they start with.
MULTIPLES = {
    "update": "alternating, simultaneous, extragradient, optimistic",
    "loss": ", ".join(dyn.TOY_LOSSES),
    "r1": "0, 0.1, 0.3, 1",
    "r2": "0, 0.1, 0.3, 1",
    "instance_noise": "0, 0.3, 0.7, 1.5",
    "consensus": "0, 0.3, 1, 3",
    "k": "1, 2, 5, 10",
    "lr": "0.05, 0.2, 0.5, 1",
    "lr_d": "0.05, 0.2, 0.5, 1",
    "lr_g": "0.05, 0.2, 0.5, 1",
    "momentum": "0, 0.5, 0.9",
}


class DynamicsLab(QWidget):
    """The lab: a form of the game's settings beside three tabs of plots.

    Parameters
    ----------
    game : Game, optional
        The game to start from (default: the paper's Dirac-GAN).
    start : (float, float)
        (theta0, psi0).
    steps : int
        Iterations drawn.
    source : Controller, optional
        The main window's controller: the lab follows its config (``source.config``,
        ``source.applied``) and asks it for spectra (``source.request_spectrum``,
        ``source.spectrum``). Without it the lab stands alone.
    """

    def __init__(self, game: dyn.Game | None = None, start=(1.0, 1.0), steps: int = 500,
                 parent=None, source=None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("ganviz: dynamics lab")
        self.resize(1500, 900)
        game = game or dyn.Game()
        self.view = DynamicsView()
        self.multiples = MultiplesView()
        self.live = SpectrumView()
        form = QFormLayout()
        self.inputs = {}

        def combo(key, items, value):
            box = QComboBox()
            box.addItems(items)
            box.setCurrentText(value)
            box.currentTextChanged.connect(lambda *_: self._edited(key))
            self._add(form, key, box)

        def number(key, value, low, high, step, decimals=3):
            box = QDoubleSpinBox()
            box.setRange(low, high)
            box.setDecimals(decimals)
            box.setSingleStep(step)
            box.setValue(value)
            box.valueChanged.connect(lambda *_: self._edited(key))
            self._add(form, key, box)

        def integer(key, value, low, high):
            box = QSpinBox()
            box.setRange(low, high)
            box.setValue(value)
            box.valueChanged.connect(lambda *_: self._edited(key))
            self._add(form, key, box)

        combo("kind", list(dyn.DYNAMICS), game.kind)
        combo("loss", list(dyn.TOY_LOSSES), game.loss)
        combo("update", list(dyn.UPDATES), game.update)
        integer("k", game.k, 1, 50)
        number("lr_d", game.lr_d, 1e-6, 5.0, 0.05, decimals=6)
        number("lr_g", game.lr_g, 1e-6, 5.0, 0.05, decimals=6)
        number("momentum", game.momentum, 0.0, 0.99, 0.05)
        for key in ("r1", "r2", "instance_noise", "consensus"):
            number(key, getattr(game, key), 0.0, 10.0, 0.1)
        integer("steps", steps, 1, 100_000)
        number("theta0", start[0], -100.0, 100.0, 0.1)
        number("psi0", start[1], -100.0, 100.0, 0.1)
        number("psi_clip", game.psi_clip or 0.0, 0.0, 100.0, 0.5)
        self.follow = QCheckBox("follow the run")
        self.follow.setToolTip(TIPS["follow"])
        self.follow.setVisible(source is not None)
        self.follow.toggled.connect(self._on_follow)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {style.ACCENT}")
        self.note = QLabel()  # what the toy does not model of the run it follows
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {style.MUTED}")
        self.radius = QLabel()
        self.radius.setStyleSheet("font-size: 13pt")
        self.radius.setToolTip("The largest modulus of the update operator's eigenvalues at "
                               "the equilibrium: below 1 the iterates converge near it")
        self.hint = QLabel()  # when the steps drawn cover little of one turn of the flow
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {style.ACCENT}")
        side = QVBoxLayout()
        side.addWidget(self.follow)
        side.addLayout(form)
        side.addWidget(self.radius)
        side.addWidget(self.hint)
        side.addWidget(self.message)
        side.addWidget(self.note)
        side.addStretch(1)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(260)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.view, "Game")
        self.tabs.addTab(self._multiples_tab(), "Small multiples")
        self.tabs.addTab(self._live_tab(), "Real run spectrum")
        self.tabs.currentChanged.connect(lambda *_: self.redraw())
        layout = QHBoxLayout(self)
        layout.addWidget(panel)
        layout.addWidget(self.tabs, 1)
        self.view.start_moved.connect(self.move_start)
        self.game = game
        self.source = None
        # Spectra asked for and not yet come: tag -> the newest run seen when asking. One at
        # a time per run; a request of a run since replaced may never come (the runner drops
        # a replaced run's events), so it blocks nothing once a newer run has started.
        self._asked: dict = {}
        self._run_id = -1  # the newest run seen (the controller's new_run)
        self._count = 0  # requests made (their tags)
        self._names: dict = {}  # tag -> the variant asked for ("" for a single run)
        self.comparison = None  # the source's comparison, when one runs
        self.redraw()
        if source is not None:
            self.link(source)

    # --- the form ---------------------------------------------------------------------------

    def _add(self, form: QFormLayout, key: str, box) -> None:
        box.setToolTip(TIPS[key])
        label = QLabel(key)
        label.setToolTip(TIPS[key])
        form.addRow(label, box)
        self.inputs[key] = box

    def value(self, key: str):
        box = self.inputs[key]
        return box.currentText() if isinstance(box, QComboBox) else box.value()

    def _set(self, key: str, value) -> None:
        """Show ``value`` in a control without it counting as the user's edit."""
        box = self.inputs[key]
        box.blockSignals(True)
        if isinstance(box, QComboBox):
            box.setCurrentText(str(value))
        else:
            box.setValue(value)
        box.blockSignals(False)

    def settings(self) -> dyn.Game:
        """The game the controls describe; ConfigError if the toy does not accept it."""
        kind = self.value("kind")
        clip = self.value("psi_clip")
        return dyn.Game(
            kind=kind, loss="wgan" if kind == "bilinear" else self.value("loss"),
            update=self.value("update"), k=self.value("k"), lr_d=self.value("lr_d"),
            lr_g=self.value("lr_g"), r1=self.value("r1"), r2=self.value("r2"),
            instance_noise=self.value("instance_noise"), consensus=self.value("consensus"),
            psi_clip=clip if clip > 0 else None, momentum=self.value("momentum"))

    def _edited(self, key: str) -> None:
        """The user changed a control: a setting the run has stops following it."""
        if key in FOLLOWED and self.follow.isChecked():
            self.follow.blockSignals(True)
            self.follow.setChecked(False)
            self.follow.blockSignals(False)
            self.note.setText(f"Not following the run: {key} set here.")
        self.redraw()

    def redraw(self, *_):
        """Draw the controls' game in the tab shown; a refused setting leaves the last one."""
        self.inputs["loss"].setEnabled(self.value("kind") == "dirac")
        self.inputs["k"].setEnabled(self.value("update") == "alternating")
        try:
            game = self.settings()
        except ConfigError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self.game = game
        self.view.show_game(game, self.start(), self.value("steps"))
        self.radius.setText(f"spectral radius\n{self.view.radius:.6f}")
        self.hint.setText(flow_hint(game, self.value("steps")))
        self.hint.setVisible(bool(self.hint.text()))
        if self.tabs.currentIndex() == 1:
            self.redraw_multiples()

    def start(self) -> tuple[float, float]:
        return self.value("theta0"), self.value("psi0")

    def move_start(self, theta: float, psi: float) -> None:
        """Start the trajectory at (theta, psi) (the view's drag or click)."""
        self._set("theta0", theta)
        self._set("psi0", psi)
        self.redraw()

    # --- following the run ------------------------------------------------------------------

    def link(self, source) -> None:
        """Follow ``source`` (the main window's controller) and ask it for spectra."""
        self.source = source
        self.follow.setVisible(True)
        source.applied.connect(self.follow_config)
        source.spectrum.connect(self.on_spectrum)
        if hasattr(source, "new_run"):
            source.new_run.connect(self._on_new_run)
        self.spectrum_button.setEnabled(True)
        self.every.setEnabled(True)
        self.live_status.setText("Press Spectrum now to take the run's spectrum.")
        if hasattr(source, "comparison_changed"):
            source.comparison_changed.connect(self.on_comparison)
        self.on_comparison(getattr(source, "comparison", None))
        self.follow.setChecked(True)

    def on_comparison(self, comparison) -> None:
        """A comparison runs (its variants to choose from) or none (None)."""
        labels = [] if comparison is None else list(comparison.labels)
        self.comparison = comparison
        if labels != [self.variant.itemText(i) for i in range(self.variant.count())]:
            self.variant.blockSignals(True)
            self.variant.clear()
            self.variant.addItems(labels)
            self.variant.blockSignals(False)
            self.live.forget()
        self.variant.setVisible(bool(labels))
        self.variant_label.setVisible(bool(labels))
        if self.source is not None and self.follow.isChecked():
            self.follow_config(self.source.config)

    def _on_variant(self, _index: int) -> None:
        """Another variant: its own rotation history, and the toy follows its settings."""
        self.live.forget()
        if self.source is not None and self.follow.isChecked():
            self.follow_config(self.source.config)

    def member(self) -> tuple[int, str]:
        """(index, name) of the variant whose spectrum is asked for; (0, "") for a single run."""
        if self.comparison is None or self.variant.count() == 0:
            return 0, ""
        i = max(self.variant.currentIndex(), 0)
        return i, self.variant.itemText(i)

    def _on_follow(self, on: bool) -> None:
        if on and self.source is not None:
            self.follow_config(self.source.config)
        elif not on:
            self.note.setText("Not following the run.")

    def follow_config(self, config) -> None:
        """Show the toy closest to a run's ``config`` (when following): its loss, k, rates,
        update rule and regularisers; the message says what the toy leaves out."""
        if not self.follow.isChecked():
            return
        i, name = self.member()
        if name:  # a comparison: the variant chosen for the spectrum
            config = config.replace(**{self.comparison.key: self.comparison.values[i]})
        values, notes = follow_values(config)
        for key, value in values.items():
            self._set(key, value)
        whom = f"Following the run ({name})." if name else "Following the run."
        self.note.setText(f"{whom} " + " ".join(notes) if notes else whom)
        self.redraw()

    # --- small multiples --------------------------------------------------------------------

    def _multiples_tab(self) -> QWidget:
        self.vary = QComboBox()
        self.vary.addItems(list(MULTIPLES))
        self.vary.setToolTip(TIPS["vary"])
        self.values = QLineEdit(MULTIPLES["update"])
        self.values.setToolTip(TIPS["values"])
        self.vary.currentTextChanged.connect(self._on_vary)
        self.values.editingFinished.connect(self.redraw_multiples)
        self.multiples_message = QLabel()
        self.multiples_message.setStyleSheet(f"color: {style.ACCENT}")
        self.multiples_message.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("vary"))
        row.addWidget(self.vary)
        row.addWidget(QLabel("values"))
        row.addWidget(self.values, 1)
        return _tab(row, self.multiples_message, self.multiples)

    def _on_vary(self, key: str) -> None:
        self.values.setText(MULTIPLES[key])
        self.redraw_multiples()

    def multiple_games(self) -> tuple[list, list[str]]:
        """The games of the small multiples and their titles; ConfigError naming a bad value."""
        key = self.vary.currentText()
        texts = [t.strip() for t in self.values.text().split(",") if t.strip()]
        if not 1 <= len(texts) <= MultiplesView.MOST:
            raise ConfigError(f"give 1 to {MultiplesView.MOST} values separated by commas, "
                              f"got {len(texts)}")
        games, labels = [], []
        for text in texts:
            value = parse_value(key, text)
            try:
                games.append(dyn.vary(self.game, key, value))
            except ConfigError as exc:
                raise ConfigError(f"{key}={text}: {exc}") from None
            labels.append(f"{key}={text}")
        return games, labels

    def redraw_multiples(self) -> None:
        try:
            games, labels = self.multiple_games()
        except ConfigError as exc:
            self.multiples_message.setText(str(exc))
            self.multiples_message.setVisible(True)
            return
        self.multiples_message.setText("")
        self.multiples_message.setVisible(False)
        self.multiples.show_games(games, labels, self.start(), self.value("steps"))

    # --- the real run's spectrum ------------------------------------------------------------

    def _live_tab(self) -> QWidget:
        self.spectrum_button = QPushButton("Spectrum now")
        self.spectrum_button.setToolTip(TIPS["spectrum_now"])
        self.spectrum_button.clicked.connect(self.request_spectrum)
        self.every = QSpinBox()
        self.every.setRange(0, 600)
        self.every.setSuffix(" s")
        self.every.setSpecialValueText("off")
        self.every.setToolTip(TIPS["every"])
        self.every.valueChanged.connect(self._on_every)
        self.eigen_k = QSpinBox()
        self.eigen_k.setRange(2, 64)
        self.eigen_k.setValue(16)
        self.eigen_k.setToolTip(TIPS["eigen_k"])
        # In compare mode: whose spectrum (the controller's comparison_changed fills it).
        self.variant = QComboBox()
        self.variant.setToolTip(TIPS["variant"])
        self.variant.currentIndexChanged.connect(self._on_variant)
        self.variant_label = QLabel("of")
        self.variant.setVisible(False)
        self.variant_label.setVisible(False)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.request_spectrum)
        self.live_status = QLabel("Open the lab from the main window (View > Dynamics lab) "
                                  "to take the spectrum of its run.")
        self.live_status.setWordWrap(True)
        self.spectrum_button.setEnabled(False)
        self.every.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.spectrum_button)
        row.addWidget(self.variant_label)
        row.addWidget(self.variant)
        row.addWidget(QLabel("every"))
        row.addWidget(self.every)
        row.addWidget(QLabel("eigenvalues (large nets)"))
        row.addWidget(self.eigen_k)
        row.addStretch(1)
        return _tab(row, self.live_status, self.live)

    def _on_new_run(self, snap) -> None:
        """A new run: its rotation history starts afresh."""
        self.live.forget()
        self._run_id = max(self._run_id, snap.run_id)

    @property
    def waiting(self) -> bool:
        """A spectrum asked during the newest run seen has not come yet."""
        return any(run >= self._run_id for run in self._asked.values())

    def _on_every(self, seconds: int) -> None:
        if seconds > 0 and self.isVisible():
            self.timer.start(seconds * 1000)
        else:
            self.timer.stop()

    def request_spectrum(self) -> None:
        """Ask the run for its spectrum (one at a time)."""
        if self.source is None or self.waiting:
            return
        self._count += 1
        tag = ("lab", self._count)
        member, name = self.member()
        if self.source.request_spectrum(tag, self.eigen_k.value(), member=member):
            self._asked[tag] = self._run_id
            self._names[tag] = name
            self.live_status.setText("Computing the spectrum beside the run...")
        else:
            self.live_status.setText("No run is going: press Play or Reset in the main window.")

    def on_spectrum(self, event) -> None:
        """A spectrum came back (the controller's ``spectrum`` signal)."""
        if self._asked.pop(event.tag, None) is None:
            return  # not asked by this lab
        name = self._names.pop(event.tag, "")
        of = f" of {name}" if name else ""  # which variant of a comparison
        if event.run_id < self._run_id:
            self.live_status.setText("The run was replaced while its spectrum was computed: "
                                     "press Spectrum now again.")
            return
        if event.eigenvalues is None:
            self.live_status.setText(f"No spectrum{of}: {event.reason}.")
            return
        how = (f"all {event.n_params:,} (exact)" if event.method == "exact" else
               f"{len(event.eigenvalues)} of largest modulus of {event.n_params:,} (Arnoldi)")
        values = event.eigenvalues
        self.live.show_spectrum(event.step, values, event.consensus,
                                f"{name}, step {event.step:,}" if name else
                                f"step {event.step:,}")
        top = float(values.real.max())
        self.live_status.setText(
            f"Step {event.step:,}{of}: eigenvalues {how}, minibatch {event.batch}, "
            f"{event.seconds * 1000:,.0f} ms. Largest Re λ {top:.4g} "
            f"({'a direction pushes away' if top > 1e-9 else 'no direction pushes away'}), "
            f"largest |λ| {float(abs(values).max()):.4g}.")

    # --- showing and hiding -----------------------------------------------------------------

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        self._on_every(self.every.value())

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt name
        self.timer.stop()  # spectra are taken only while the lab is open
        super().hideEvent(event)


def flow_hint(game: dyn.Game, steps: int) -> str:
    """A line when ``steps`` iterations cover less than half a turn of the rotation at
    the equilibrium (the run's small rates, say); "" otherwise."""
    turn = float(np.abs(dyn.eigenvalues(game).imag).max())
    if turn <= 0:
        return ""
    period = 2 * math.pi / turn  # flow time of one turn
    covered = steps * game.lr_g
    if covered >= period / 2:
        return ""
    return (f"{steps:,} steps of lr_g {game.lr_g:g} cover a flow time of {covered:.3g}; "
            f"one turn around (0, 0) takes {period:.3g}: raise steps to see it.")


def parse_value(key: str, text: str):
    """A small multiple's value from its text: a name, an integer (k) or a number."""
    if key in ("update", "loss"):
        return text
    try:
        return int(text) if key == "k" else float(text)
    except ValueError:
        kind = "an integer" if key == "k" else "a number"
        raise ConfigError(f"{key} must be {kind}, got {text!r}") from None


def follow_values(config) -> tuple[dict, list[str]]:
    """The lab's control values for a run's ``config``, and notes on what the toy leaves out.

    Keys are read by name, so a config without one (an older run) leaves that control as it is.
    """
    values = {key: getattr(config, key) for key in FOLLOWED if hasattr(config, key)}
    notes = []
    loss = values.get("loss")
    if loss is not None and loss not in dyn.TOY_LOSSES:
        values["loss"] = "wgan" if loss == "wgan-gp" else "minimax"
        notes.append(f"The toy shows {values['loss']} for {loss} (wgan-gp's penalty "
                     "(|psi| - 1)^2 has no Jacobian at the equilibrium)."
                     if loss == "wgan-gp" else f"The toy has no {loss}.")
    values["momentum"] = dyn.SGD_MOMENTUM  # the run's sgd
    optimizer = getattr(config, "optimizer", "sgd")
    if optimizer != "sgd":
        notes.append(f"The run's optimizer is {optimizer}; the toy takes sgd steps (momentum "
                     f"{dyn.SGD_MOMENTUM}) at the run's rates (no {optimizer} state).")
    off = [key for key, neutral in UNMODELLED.items()
           if hasattr(config, key) and getattr(config, key) not in (neutral, None)]
    if off:
        notes.append(f"Not modelled by the toy: {', '.join(off)}.")
    if values.get("k", 1) > 1 and values.get("update", "alternating") != "alternating":
        values["k"] = 1
        notes.append("k counts alternating D steps; the joint rule moves both at once (k=1).")
    return values, notes


def lab_game(config) -> dyn.Game:
    """The toy game closest to a run's config (its loss, update, k, rates and regularisers)."""
    values, _ = follow_values(config)
    return dyn.Game(**values)


def open_lab(parent, source=None) -> DynamicsLab:
    """Show the lab beside ``parent`` (one per parent), following ``source`` (a controller)."""
    lab = getattr(parent, "_dynamics_lab", None)
    if lab is None:
        game = None
        if source is not None:
            try:
                game = lab_game(source.config)
            except ConfigError:
                game = None  # the lab says why when it follows
        lab = DynamicsLab(game, parent=parent, source=source)
        parent._dynamics_lab = lab
    lab.show()
    lab.raise_()
    lab.activateWindow()
    return lab


def run_lab(game: dyn.Game, start, steps: int, qt_args: list[str], *,
            screenshot: Path | None = None) -> int:
    """Open the lab alone (``--dynamics`` without ``--headless``); ``screenshot``: save, quit."""
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("ganviz")
    style.configure()
    lab = DynamicsLab(game, start, steps)
    lab.show()
    if screenshot is None:
        return app.exec()
    from ganviz.core.files import atomic_path

    app.processEvents()
    lab.repaint()
    app.processEvents()
    with atomic_path(screenshot, "--screenshot") as tmp:
        if not lab.grab().save(str(tmp), "PNG"):
            print(f"ganviz: error: could not write --screenshot {screenshot}", file=sys.stderr)
            return 1
    lab.close()
    return 0


def _tab(row: QHBoxLayout, line: QWidget, body: QWidget) -> QWidget:
    """A lab tab: a row of settings, a line of text under it, then what it draws."""
    box = QVBoxLayout()
    box.setContentsMargins(0, 4, 0, 0)
    box.addLayout(row)
    box.addWidget(line)
    box.addWidget(body, 1)
    tab = QWidget()
    tab.setLayout(box)
    return tab
