"""The dynamics lab window: controls for a toy game beside its plots (views/dynamics.py).

Opened from the main window (View > Dynamics lab) or alone with
``python main.py --dynamics dirac`` (``--screenshot FILE`` saves it and quits).
Every control redraws at once: the toy's numbers take milliseconds. A setting
the toy does not accept (k > 1 with a joint update rule, say) is named in the
message line and the plots keep the last accepted game.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSpinBox,
    QVBoxLayout, QWidget,
)

from ganviz.core import dynamics as dyn
from ganviz.core.config import ConfigError
from ganviz.views import style
from ganviz.views.dynamics import DynamicsView

#: The controls' tooltips: each option's formula on the Dirac-GAN.
TIPS = {
    "kind": "dirac: p_data = delta_0, G = delta_theta, D(x) = psi x (Mescheder et al. 2018).<br>"
            "bilinear: min_theta max_phi theta*phi (Gidel et al. 2019).",
    "loss": "minimax: v = (-psi f'(psi theta), theta f'(psi theta)), f(t) = -log(1 + e^-t)<br>"
            "nonsaturating: v = (-psi f'(-psi theta), theta f'(psi theta))<br>"
            "wgan: v = (-psi, theta); hinge: (-psi, theta 1[psi theta < 1]); lsgan: least squares",
    "update": "alternating: k D steps, then one G step (Algorithm 1)<br>"
              "simultaneous: x += H w(x)<br>extragradient: x += H w(x + H w(x))<br>"
              "optimistic: x += 2 H w(x) - H w(x_prev)",
    "k": "D steps per G step (alternating only)",
    "lr_d": "step size of psi (D)", "lr_g": "step size of theta (G)",
    "r1": "R1: (gamma/2) E_data |grad_x D|^2 = (gamma/2) psi^2 on D",
    "r2": "R2: (gamma/2) E_G |grad_x D|^2 = (gamma/2) psi^2 on D",
    "instance_noise": "std sigma of Gaussian noise on real and generated samples; "
                      "adds 2 sigma^2 f''(0) to the Jacobian's psi-psi entry",
    "consensus": "consensus optimisation: w = v - gamma J^T v (both descend |v|^2 / 2)",
    "steps": "iterations drawn", "theta0": "start theta (or drag the marker)",
    "psi0": "start psi (or drag the marker)",
    "psi_clip": "clip psi to [-c, c] after every update (0: off; Gidel's notebook uses 1)",
}


class DynamicsLab(QWidget):
    """The lab: a form of the game's settings and the :class:`DynamicsView` that draws it."""

    def __init__(self, game: dyn.Game | None = None, start=(1.0, 1.0), steps: int = 500,
                 parent=None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("ganviz: dynamics lab")
        self.resize(1500, 900)
        game = game or dyn.Game()
        self.view = DynamicsView()
        form = QFormLayout()
        self.inputs = {}

        def combo(key, items, value):
            box = QComboBox()
            box.addItems(items)
            box.setCurrentText(value)
            box.currentTextChanged.connect(self.redraw)
            self._add(form, key, box)

        def number(key, value, low, high, step, decimals=3):
            box = QDoubleSpinBox()
            box.setRange(low, high)
            box.setDecimals(decimals)
            box.setSingleStep(step)
            box.setValue(value)
            box.valueChanged.connect(self.redraw)
            self._add(form, key, box)

        def integer(key, value, low, high):
            box = QSpinBox()
            box.setRange(low, high)
            box.setValue(value)
            box.valueChanged.connect(self.redraw)
            self._add(form, key, box)

        combo("kind", list(dyn.DYNAMICS), game.kind)
        combo("loss", list(dyn.TOY_LOSSES), game.loss)
        combo("update", list(dyn.UPDATES), game.update)
        integer("k", game.k, 1, 50)
        number("lr_d", game.lr_d, 0.001, 5.0, 0.05)
        number("lr_g", game.lr_g, 0.001, 5.0, 0.05)
        for key in ("r1", "r2", "instance_noise", "consensus"):
            number(key, getattr(game, key), 0.0, 10.0, 0.1)
        integer("steps", steps, 1, 100_000)
        number("theta0", start[0], -100.0, 100.0, 0.1)
        number("psi0", start[1], -100.0, 100.0, 0.1)
        number("psi_clip", game.psi_clip or 0.0, 0.0, 100.0, 0.5)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {style.ACCENT}")
        self.radius = QLabel()
        self.radius.setStyleSheet("font-size: 13pt")
        self.radius.setToolTip("The largest modulus of the update operator's eigenvalues at "
                               "the equilibrium: below 1 the iterates converge near it")
        side = QVBoxLayout()
        side.addLayout(form)
        side.addWidget(self.radius)
        side.addWidget(self.message)
        side.addStretch(1)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(260)
        layout = QHBoxLayout(self)
        layout.addWidget(panel)
        layout.addWidget(self.view, 1)
        self.view.start_moved.connect(self.move_start)
        self.game = game
        self.redraw()

    def _add(self, form: QFormLayout, key: str, box) -> None:
        box.setToolTip(TIPS[key])
        label = QLabel(key)
        label.setToolTip(TIPS[key])
        form.addRow(label, box)
        self.inputs[key] = box

    def value(self, key: str):
        box = self.inputs[key]
        return box.currentText() if isinstance(box, QComboBox) else box.value()

    def settings(self) -> dyn.Game:
        """The game the controls describe; ConfigError if the toy does not accept it."""
        kind = self.value("kind")
        clip = self.value("psi_clip")
        return dyn.Game(
            kind=kind, loss="wgan" if kind == "bilinear" else self.value("loss"),
            update=self.value("update"), k=self.value("k"), lr_d=self.value("lr_d"),
            lr_g=self.value("lr_g"), r1=self.value("r1"), r2=self.value("r2"),
            instance_noise=self.value("instance_noise"), consensus=self.value("consensus"),
            psi_clip=clip if clip > 0 else None)

    def redraw(self, *_):
        """Draw the controls' game; a refused setting leaves the last one drawn."""
        self.inputs["loss"].setEnabled(self.value("kind") == "dirac")
        self.inputs["k"].setEnabled(self.value("update") == "alternating")
        try:
            game = self.settings()
        except ConfigError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText("")
        self.game = game
        self.view.show_game(game, (self.value("theta0"), self.value("psi0")), self.value("steps"))
        self.radius.setText(f"spectral radius\n{self.view.radius:.6f}")

    def move_start(self, theta: float, psi: float) -> None:
        """Start the trajectory at (theta, psi) (the view's drag or click)."""
        for key, value in (("theta0", theta), ("psi0", psi)):
            box = self.inputs[key]
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self.redraw()


def lab_game(config) -> dyn.Game:
    """The toy game closest to a run's config: its loss, k and regularisers, the paper's h."""
    loss = config.loss if config.loss in dyn.TOY_LOSSES else "minimax"
    update = config.update
    return dyn.Game(loss=loss, update=update, k=config.k if update == "alternating" else 1,
                    r1=config.r1, r2=config.r2, consensus=config.consensus,
                    instance_noise=config.instance_noise)


def open_lab(parent, config=None) -> DynamicsLab:
    """Show the lab beside ``parent`` (one per parent), starting from ``config``'s loss and k."""
    lab = getattr(parent, "_dynamics_lab", None)
    if lab is None:
        lab = DynamicsLab(lab_game(config) if config is not None else None, parent=parent)
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
