"""The control panel: preset, play/pause/step/reset, live training settings, restart settings, layers.

The panel only emits what the user asked for (``params_changed`` with raw
values); the controller validates and applies. :meth:`ControlPanel.show_config`
puts a config on the widgets without emitting anything.
"""

from __future__ import annotations

import html
import math
import re

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from ganviz.core import losses
from ganviz.core.config import DATA_1D, DATA_2D, DEVICES, LOSS_NAMES, OPTIMIZERS, Config
from ganviz.core.presets import load_preset, preset_names
from ganviz.app.options import OptionsGroup
from ganviz.views import field1d, field2d, style

#: The scenario's "modified from <preset>" line, and its dimmed "Look for".
MODIFIED_COLOUR, DIMMED = "#ffd54f", "#8a8a8a"
LR_MIN_EXP, LR_MAX_EXP, LR_TICKS = -5.0, 1.0, 100  # slider: 10^-5 .. 10^1, 100 ticks a decade
EDIT_WIDTH = 70  # px, a learning rate's text box (x PRESENT_FONT in presentation mode)
BATCH_SIZES = ("16", "32", "64", "128", "256", "512", "1024", "2048", "4096")
SPEEDS = (("full speed", 0.0), ("300 it/s", 300.0), ("100 it/s", 100.0), ("30 it/s", 30.0),
          ("10 it/s", 10.0), ("3 it/s", 3.0), ("1 it/s", 1.0))
ARROW_GAINS = (("x 0.1", 0.1), ("x 1", 1.0), ("x 10", 10.0), ("x 100", 100.0),
               ("x 1000", 1000.0))
#: Each loss's menu tooltip: its formula and what it is for, from the loss registry.
LOSS_TEXT = {
    name: f"<b>{name}</b>: {html.escape(entry.formula)}<br>{html.escape(entry.about)}"
    for name, entry in losses.LOSSES.items()
}
#: Hover text of every control (rich text), by the attribute that holds it.
TIPS = {
    "preset": "Ready-made scenarios, each showing one GAN behaviour (mode collapse, vanishing "
              "gradients, ...). Choosing one loads its settings and starts again.",
    "play": "Play / pause training (Space)",
    "step": "Pause, then train one iteration of Algorithm 1: k D steps, then one G step (S)",
    "reset": "Start again from fresh weights with the settings shown (R)",
    "step_d": "Pause, then update D alone, once: D(x) moves towards D*(x) (D)",
    "step_g": "Pause, then update G alone, once: p<sub>g</sub> moves where D says 'real' (G)",
    "freeze_d": "<b>Freeze D</b>: D stops learning (it is still evaluated).<br>"
                "G then chases a fixed D: it pushes its samples towards wherever D(x) is "
                "highest and can pile up or overshoot there. A fixed D, even the optimal D* of "
                "the moment, is something G can exploit: that is why D and G take turns.",
    "freeze_g": "<b>Freeze G</b>: G stops learning (it is still evaluated), so p<sub>g</sub> "
                "stays put.<br>D then converges towards the optimal D*(x) = "
                "p<sub>data</sub>(x) / (p<sub>data</sub>(x) + p<sub>g</sub>(x)) for this "
                "p<sub>g</sub> (Goodfellow et al. 2014, Prop. 1): in 1-D, watch D settle onto "
                "the dashed D* curve.",
    "speed": "Slow motion: at most this many iterations a second, to follow single steps. "
             "Full speed trains as fast as the machine allows.",
    "loss": "What D and G optimise. Applies at once.<br>" + "<br>".join(LOSS_TEXT.values()),
    "k": "<b>k</b>: D (critic) steps per G step, as in Algorithm 1 of Goodfellow et al. 2014."
         "<br>A larger k keeps D closer to the optimal D* for the current G, so G learns "
         "against a well-trained D; with the minimax loss a D that is too good saturates and "
         "G's gradient vanishes. WGAN usually takes k = 5: its W1 estimate needs a "
         "near-optimal critic.",
    "lr_d": "Learning rate of D (log scale, 10<sup>-5</sup> to 10). Too high and training "
            "oscillates or diverges; too low and D barely moves.",
    "lr_g": "Learning rate of G (log scale, 10<sup>-5</sup> to 10). Too high and training "
            "oscillates or diverges; too low and G barely moves.",
    "lr_edit": "Type a rate, e.g. 2e-4, then Enter",
    "link": "Move both learning rates together",
    "optimizer": "<b>sgd</b>: with momentum 0.9, as in the original GAN paper; "
                 "<b>adam</b>: beta1 = 0.5 as in DCGAN, the usual choice; "
                 "<b>rmsprop</b>: the WGAN paper's choice for its clipped critic.",
    "batch": "Minibatch size m: real samples and noise vectors per step. Larger: smoother "
             "gradients, slower steps. Type a size and Enter, or pick one.",
    "clip": "WGAN weight clipping: after each critic step every weight is clipped to "
            "[-clip, clip], a crude way to keep the critic Lipschitz. Too small and the critic "
            "cannot fit; too large and it is barely held. Used by wgan only.",
    "gp": "WGAN-GP's lambda: weight of the gradient penalty E[(||grad<sub>x</sub> D|| - 1)"
          "<sup>2</sup>], taken at random points between real and generated samples, which "
          "keeps the critic 1-Lipschitz (Gulrajani et al. 2017 use 10). Used by wgan-gp only.",
    "data": "The target distribution p<sub>data</sub>, 1-D or 2-D. Mixtures (bimodal, "
            "ring8, grid25, ...) show mode collapse. Changing it restarts the run.",
    "z_dim": "Size of the noise vector z that G turns into a sample. With z dim 1 the 1-D "
             "view draws the map z &rarr; x = G(z). Restarts the run.",
    "hidden": "Neurons in each hidden layer of G and of D (both are MLPs). Restarts the run.",
    "layers": "Number of hidden layers of G and of D. Restarts the run.",
    "seed": "Seed of every random draw (weights, data, noise): the same seed, the same run. "
            "Restarts the run.",
    "device": "Where training runs: auto takes CUDA when present, else the CPU. Restarts the "
              "run.",
    "arrow_gain": "Arrows are drawn proportional to |gradient|, the 90th percentile of the "
                  "drawn ones at a full length; the legend prints that |gradient| (a tiny one "
                  "is a vanishing gradient). This multiplies the lengths; a new run starts "
                  "again at x 1.",
    "contrast": "Spread the colours of D over a narrower range around 1/2 (0 for a raw "
                "output): when D is near 1/2 everywhere, x 5 or x 20 shows where it leans. "
                "The colour bar's numbers follow.",
}


def lr_to_tick(lr: float) -> int:
    """Slider position of a learning rate (log scale, clamped to the slider)."""
    e = math.log10(lr) if lr > 0 else LR_MIN_EXP
    e = min(max(e, LR_MIN_EXP), LR_MAX_EXP)
    return int(round((e - LR_MIN_EXP) * LR_TICKS))


def tick_to_lr(tick: int) -> float:
    """Learning rate at a slider position, rounded to 3 significant digits."""
    return float(f"{10 ** (LR_MIN_EXP + tick / LR_TICKS):.3g}")


def _fmt(value: float) -> str:
    return f"{value:.3g}"


class LrControl(QWidget):
    """A log-scale slider with a text box for one learning rate."""

    moved = Signal(float)  # the slider moved (a valid rate)
    typed = Signal(str)  # the text box was edited (raw text, validated elsewhere)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, int((LR_MAX_EXP - LR_MIN_EXP) * LR_TICKS))
        self.slider.setPageStep(LR_TICKS // 2)
        self.edit = QLineEdit()
        self.edit.setFixedWidth(EDIT_WIDTH)
        self.edit.setToolTip(TIPS["lr_edit"])
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.edit)
        self.slider.valueChanged.connect(self._on_slider)
        self.edit.editingFinished.connect(self._on_edit)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt name
        """The slider and the control get ``text``; the text box keeps its own hint."""
        super().setToolTip(text)
        self.slider.setToolTip(text)

    def set_value(self, lr: float) -> None:
        """Show ``lr`` without emitting."""
        self.slider.blockSignals(True)
        self.slider.setValue(lr_to_tick(lr))
        self.slider.blockSignals(False)
        self.edit.setText(_fmt(lr))

    @Slot(int)
    def _on_slider(self, tick: int) -> None:
        lr = tick_to_lr(tick)
        self.edit.setText(_fmt(lr))
        self.moved.emit(lr)

    @Slot()
    def _on_edit(self) -> None:
        if self.edit.isModified():
            self.edit.setModified(False)
            self.typed.emit(self.edit.text())


class ControlPanel(QWidget):
    """Every control of a run; emits requests, shows the config it is given."""

    params_changed = Signal(dict)
    speed_changed = Signal(float)
    play_clicked = Signal()
    step_clicked = Signal()
    step_d_clicked = Signal()
    step_g_clicked = Signal()
    reset_clicked = Signal()
    preset_chosen = Signal(str)
    layer_toggled = Signal(int, str, bool)  # dim, layer key, visible
    arrow_gain_changed = Signal(float)
    contrast_changed = Signal(float)
    heatmap_changed = Signal(str)  # what the 2-D heatmap shows (field2d.HEATMAPS)
    freeze_changed = Signal(str, bool)  # "d" or "g", frozen

    def __init__(self, config: Config, preset: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self._config = config
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(8)

        # Preset and its explanation.
        box = QGroupBox("Scenario")
        lay = QVBoxLayout(box)
        self.preset = QComboBox()
        self._presets = {}
        for name in preset_names():
            try:
                p = load_preset(name)
            except Exception:  # a broken preset file must not take the window down
                continue
            if p.dynamics:  # a toy game: the dynamics lab opens it, not the MLP run
                continue
            self._presets[name] = p
            self.preset.addItem(f"{p.title}", name)
        # Long titles must not widen the dock: the combo shows what fits, the list shows all.
        self.preset.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(16)
        if preset in self._presets:
            self.preset.setCurrentIndex(self.preset.findData(preset))
        lay.addWidget(self.preset)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.explanation.linkActivated.connect(self._on_preset_link)  # `name` -> that preset
        lay.addWidget(self.explanation)
        outer.addWidget(box)
        self.preset.activated.connect(self._on_preset)
        self.show_preset(preset)

        # Run buttons and speed.
        buttons = QHBoxLayout()
        self.play = QPushButton("Pause")
        self.step = QPushButton("Step")
        self.reset = QPushButton("Reset")
        for b in (self.play, self.step, self.reset):
            b.setMinimumHeight(32)
            buttons.addWidget(b)
        outer.addLayout(buttons)
        singles = QHBoxLayout()
        self.step_d = QPushButton("D step")
        self.step_g = QPushButton("G step")
        for b in (self.step_d, self.step_g):
            singles.addWidget(b)
        outer.addLayout(singles)
        freeze = QHBoxLayout()
        self.freeze_d = QCheckBox("Freeze D")
        self.freeze_g = QCheckBox("Freeze G")
        for b in (self.freeze_d, self.freeze_g):
            freeze.addWidget(b)
        outer.addLayout(freeze)
        self.freeze_d.toggled.connect(lambda on: self.freeze_changed.emit("d", bool(on)))
        self.freeze_g.toggled.connect(lambda on: self.freeze_changed.emit("g", bool(on)))
        self.play.clicked.connect(self.play_clicked)
        self.step.clicked.connect(self.step_clicked)
        self.step_d.clicked.connect(self.step_d_clicked)
        self.step_g.clicked.connect(self.step_g_clicked)
        self.reset.clicked.connect(self.reset_clicked)
        self.speed = QComboBox()
        for label, value in SPEEDS:
            self.speed.addItem(label, value)
        self.speed.activated.connect(self._on_speed)
        speed_row = QFormLayout()
        _row(speed_row, "Speed", self.speed, TIPS["speed"])
        outer.addLayout(speed_row)

        # Live settings.
        live = QGroupBox("Training (applies at once)")
        form = QFormLayout(live)
        self.loss = QComboBox()
        for name in LOSS_NAMES:
            self.loss.addItem(name, name)
            self.loss.setItemData(self.loss.count() - 1, LOSS_TEXT.get(name, name),
                                  Qt.ItemDataRole.ToolTipRole)
        self.loss.activated.connect(lambda _i: self._emit("loss", self.loss.currentData()))
        _row(form, "Loss", self.loss, TIPS["loss"])
        self.k = QSlider(Qt.Orientation.Horizontal)
        self.k.setRange(1, 20)
        self.k_label = QLabel()
        self.k_label.setMinimumWidth(24)
        k_row = QHBoxLayout()
        k_row.addWidget(self.k, 1)
        k_row.addWidget(self.k_label)
        self.k.valueChanged.connect(self._on_k)
        _row(form, "k (D steps)", k_row, TIPS["k"])
        self.lr_d = LrControl()
        self.lr_g = LrControl()
        self.link = QCheckBox("link D and G rates")
        self.link.setChecked(config.lr_d == config.lr_g)
        _row(form, "lr D", self.lr_d, TIPS["lr_d"])
        _row(form, "lr G", self.lr_g, TIPS["lr_g"])
        form.addRow("", self.link)
        self.lr_d.moved.connect(self._on_lr_d)
        self.lr_g.moved.connect(self._on_lr_g)
        self.lr_d.typed.connect(self._on_lr_d_typed)
        self.lr_g.typed.connect(self._on_lr_g_typed)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.activated.connect(
            lambda _i: self._emit("optimizer", self.optimizer.currentText()))
        _row(form, "Optimizer", self.optimizer, TIPS["optimizer"])
        self.batch = QComboBox()
        self.batch.setEditable(True)
        self.batch.addItems(BATCH_SIZES)
        self.batch.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.batch.activated.connect(lambda _i: self._emit("batch_size", self.batch.currentText()))
        self.batch.lineEdit().editingFinished.connect(
            lambda: self._emit("batch_size", self.batch.currentText()))
        _row(form, "Batch size", self.batch, TIPS["batch"])
        self.clip = QLineEdit()
        self.clip.editingFinished.connect(lambda: self._typed(self.clip, "clip"))
        _row(form, "Clip (wgan)", self.clip, TIPS["clip"])
        self.gp = QLineEdit()
        self.gp.editingFinished.connect(lambda: self._typed(self.gp, "gp_weight"))
        _row(form, "GP weight", self.gp, TIPS["gp"])
        outer.addWidget(live)
        # Update rules and regularisers (ganviz/app/options.py), collapsed until opened.
        self.options = OptionsGroup(config)
        self.options.params_changed.connect(self.params_changed)
        outer.addWidget(self.options)

        # Cold settings.
        cold = QGroupBox("Model and data (restart the run)")
        form = QFormLayout(cold)
        self.data = QComboBox()
        for name in DATA_1D:
            self.data.addItem(f"1-D  {name}", name)
        for name in DATA_2D:
            self.data.addItem(f"2-D  {name}", name)
        self.data.activated.connect(lambda _i: self._emit("data", self.data.currentData()))
        _row(form, "Data", self.data, TIPS["data"])
        self.z_dim = self._spin(1, 64, "z_dim")
        _row(form, "z dim", self.z_dim, TIPS["z_dim"])
        self.hidden = self._spin(1, 1024, "hidden")
        _row(form, "Hidden width", self.hidden, TIPS["hidden"])
        self.layers = self._spin(1, 8, "layers")
        _row(form, "Hidden layers", self.layers, TIPS["layers"])
        self.seed = self._spin(0, 2**31 - 1, "seed")
        _row(form, "Seed", self.seed, TIPS["seed"])
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.activated.connect(lambda _i: self._emit("device", self.device.currentText()))
        _row(form, "Device", self.device, TIPS["device"])
        outer.addWidget(cold)

        # Layers of the views.
        self.layer_boxes = {}
        for dim, module in ((1, field1d), (2, field2d)):
            box = QGroupBox("Show (1-D view)" if dim == 1 else "Show (2-D view)")
            lay = QVBoxLayout(box)
            lay.setSpacing(2)
            for key, label in module.LAYERS.items():
                check = QCheckBox(label)
                check.setChecked(key not in getattr(module, "OFF_BY_DEFAULT", ()))
                check.setToolTip(module.LAYER_TIPS[key])
                check.toggled.connect(
                    lambda on, d=dim, k=key: self.layer_toggled.emit(d, k, on))
                lay.addWidget(check)
            if dim == 2:
                self.arrow_gain = QComboBox()
                for label, value in ARROW_GAINS:
                    self.arrow_gain.addItem(label, value)
                self.arrow_gain.setCurrentIndex(1)
                self.arrow_gain.activated.connect(
                    lambda _i: self.arrow_gain_changed.emit(float(self.arrow_gain.currentData())))
                self.contrast = QComboBox()
                for factor in field2d.CONTRASTS:
                    self.contrast.addItem("full range" if factor == 1 else f"x {factor:g}",
                                          factor)
                self.contrast.activated.connect(
                    lambda _i: self.contrast_changed.emit(float(self.contrast.currentData())))
                self.heatmap = QComboBox()
                for key, label in field2d.HEATMAPS.items():
                    self.heatmap.addItem(label, key)
                self.heatmap.activated.connect(
                    lambda _i: self.heatmap_changed.emit(str(self.heatmap.currentData())))
                row = QFormLayout()
                _row(row, "Heatmap", self.heatmap, field2d.TIPS["heatmap"])
                _row(row, "Arrow length", self.arrow_gain, TIPS["arrow_gain"])
                _row(row, "D contrast", self.contrast, TIPS["contrast"])
                lay.addLayout(row)
            self.layer_boxes[dim] = box
            outer.addWidget(box)
        outer.addStretch(1)
        for key in ("preset", "play", "step", "reset", "step_d", "step_g", "freeze_d",
                    "freeze_g", "link"):
            getattr(self, key).setToolTip(TIPS[key])
        self.batch.lineEdit().setToolTip(TIPS["batch"])
        self._normal_font = None  # set while presenting: the font to go back to
        self.show_config(config)
        self.show_dim(config.dim)

    # --- showing -----------------------------------------------------------

    def show_config(self, config: Config) -> None:
        """Put ``config`` on the widgets without emitting changes (and say if it departs
        from the preset shown)."""
        self._config = config
        if hasattr(self, "explanation"):
            self._show_scenario()
        widgets = (self.loss, self.k, self.optimizer, self.batch, self.data, self.z_dim,
                   self.hidden, self.layers, self.seed, self.device, self.clip, self.gp)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.loss.setCurrentIndex(max(0, self.loss.findData(config.loss)))
            self.k.setValue(min(config.k, self.k.maximum()))
            self.k_label.setText(str(config.k))
            self.lr_d.set_value(config.lr_d)
            self.lr_g.set_value(config.lr_g)
            self.optimizer.setCurrentText(config.optimizer)
            self.batch.setCurrentText(str(config.batch_size))
            self._show_data(config.data)
            self.z_dim.setValue(config.z_dim)
            self.hidden.setValue(config.hidden)
            self.layers.setValue(config.layers)
            self.seed.setValue(min(config.seed, self.seed.maximum()))
            self.device.setCurrentText(config.device)
            self.clip.setText(_fmt(config.clip))
            self.gp.setText(_fmt(config.gp_weight))
            self.clip.setEnabled(losses.get(config.loss).clip_weights)
            self.gp.setEnabled(losses.get(config.loss).gradient_penalty)
        finally:
            for w in widgets:
                w.blockSignals(False)
        if hasattr(self, "options"):
            self.options.show_config(config)
        self.link.setEnabled(not config.ttur)  # the two-time-scale lock keeps its own ratio

    def _show_data(self, data: str) -> None:
        """Select ``data`` in the box; a user's own target gets an item of its own.

        The item carries the exact data string, so choosing it again (or any
        edit that sends the box's value) keeps that target, never a named one.
        """
        index = self.data.findData(data)
        if index < 0:
            own = self.data.findText("own target", Qt.MatchFlag.MatchStartsWith)
            label = f"own target  {data.split(':', 1)[0]}"
            if own < 0:
                self.data.addItem(label, data)
                own = self.data.count() - 1
            else:
                self.data.setItemText(own, label)
                self.data.setItemData(own, data)
            index = own
        self.data.setCurrentIndex(index)

    def show_freeze(self, d: bool, g: bool) -> None:
        """Tick the freeze boxes as given without emitting (a restored session)."""
        for box, on in ((self.freeze_d, d), (self.freeze_g, g)):
            box.blockSignals(True)
            box.setChecked(bool(on))
            box.blockSignals(False)

    def set_presentation(self, on: bool) -> None:
        """Fonts PRESENT_FONT times larger (the panel and the tooltips) when ``on``; back off.

        Tooltips use one application-wide font: it is enlarged here too, and put back.
        """
        from PySide6.QtWidgets import QToolTip

        if bool(on) == (self._normal_font is not None):
            return
        if on:
            was_set = self.testAttribute(Qt.WidgetAttribute.WA_SetFont)
            self._normal_font = (QFont(self.font()), was_set, QFont(QToolTip.font()))
            self.setFont(style.scaled_font(self.font(), style.PRESENT_FONT))
            QToolTip.setFont(style.scaled_font(QToolTip.font(), style.PRESENT_FONT))
            for lr in (self.lr_d, self.lr_g):
                lr.edit.setFixedWidth(int(round(EDIT_WIDTH * style.PRESENT_FONT)))
        else:
            font, was_set, tip = self._normal_font
            self._normal_font = None
            if was_set:
                self.setFont(font)
            else:  # an empty font: inherit from the window again, as before
                self.setFont(QFont())
            QToolTip.setFont(tip)
            for lr in (self.lr_d, self.lr_g):
                lr.edit.setFixedWidth(EDIT_WIDTH)

    def show_dim(self, dim: int) -> None:
        """Show the layer toggles of the view in use."""
        for d, box in self.layer_boxes.items():
            box.setVisible(d == dim)

    def show_preset(self, name: str | None) -> None:
        """Show a preset's title, explanation, what to look for and what to try next."""
        self._preset_name = name if name in self._presets else None
        self._show_scenario()
        index = self.preset.findData(name)
        if name in self._presets and index >= 0:
            self.preset.setCurrentIndex(index)

    def modified_keys(self) -> list[str]:
        """The settings in force that differ from the preset shown (empty: none, or no preset)."""
        p = self._presets.get(getattr(self, "_preset_name", None))
        if p is None:
            return []
        mine, theirs = self._config.to_dict(), p.config.to_dict()
        return [k for k in theirs if mine.get(k) != theirs[k]]

    def _show_scenario(self) -> None:
        """The preset's text; once the settings differ, "modified from" it, and its
        "Look for" dimmed (it describes the preset's settings, not these)."""
        p = self._presets.get(getattr(self, "_preset_name", None))
        if p is None:
            self.explanation.setText("<i>Custom settings.</i>")
            return
        text = lambda t: self._linked(_esc(t))  # noqa: E731
        changed = self.modified_keys()
        own = _own_target(self._config.data) if "data" in changed else None
        parts = []
        if changed:
            said = ("the target is yours (below); what follows describes the preset's settings"
                    if own else "the text below describes the preset's settings")
            parts.append(f'<p style="color:{MODIFIED_COLOUR}"><b>Modified from '
                         f'{_esc(p.name)}</b> ({_esc(", ".join(changed))} changed): {said}.</p>')
        parts.append(f"<p>{_esc(own) if own else text(p.explanation)}</p>")
        if p.look_for:
            look = f"<b>Look for:</b> {text(p.look_for)}"
            if changed:
                look = f'<span style="color:{DIMMED}">{look}</span>'
            parts.append(f"<p>{look}</p>")
        if p.next:
            parts.append(f"<p><b>Try next:</b> {text(p.next)}</p>")
        self.explanation.setText("".join(parts))

    def show_state(self, paused: bool, stopped: bool) -> None:
        """Label the play button by what pressing it will do."""
        if stopped:
            self.play.setText("Run again")
        else:
            self.play.setText("Play" if paused else "Pause")

    def show_speed(self, speed: float) -> None:
        """Show the speed in force without emitting."""
        index = self.speed.findData(speed)
        if index >= 0:
            self.speed.setCurrentIndex(index)

    def reset_arrow_gain(self) -> None:
        """Arrow length back to x 1 (a new run), emitting it so that the view follows."""
        self.arrow_gain.setCurrentIndex(self.arrow_gain.findData(1.0))
        self.arrow_gain_changed.emit(1.0)

    # --- emitting ------------------------------------------------------------

    def _spin(self, low: int, high: int, key: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)  # apply on Enter or focus out, not per keystroke
        spin.valueChanged.connect(lambda v: self._emit(key, int(v)))
        return spin

    def _emit(self, key: str, value) -> None:
        if key == "loss":
            self.clip.setEnabled(losses.get(value).clip_weights)
            self.gp.setEnabled(losses.get(value).gradient_penalty)
        self.params_changed.emit({key: value})

    def _typed(self, edit: QLineEdit, key: str) -> None:
        if edit.isModified():
            edit.setModified(False)
            self.params_changed.emit({key: edit.text()})

    @Slot(int)
    def _on_preset(self, index: int) -> None:
        name = self.preset.itemData(index)
        self.show_preset(name)
        self.preset_chosen.emit(name)

    def _linked(self, html: str) -> str:
        """Preset names in backticks become links that open them; other backticks are dropped."""
        def link(match):
            name = match.group(1)
            if name in self._presets:
                return f'<a href="{name}" style="color:#4fc3f7">{name}</a>'
            return f"<tt>{name}</tt>"

        return re.sub(r"`([^`]+)`", link, html)

    @Slot(str)
    def _on_preset_link(self, name: str) -> None:
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)
            self._on_preset(index)

    @Slot(int)
    def _on_speed(self, index: int) -> None:
        self.speed_changed.emit(float(self.speed.itemData(index)))

    @Slot(int)
    def _on_k(self, k: int) -> None:
        self.k_label.setText(str(k))
        self.params_changed.emit({"k": int(k)})

    @Slot(float)
    def _on_lr_d(self, lr: float) -> None:
        if self._config.ttur > 0:  # the two-time-scale lock: the config derives lr G
            self.lr_g.set_value(lr / self._config.ttur)
            self.params_changed.emit({"lr_d": lr})
        elif self.link.isChecked():
            self.lr_g.set_value(lr)
            self.params_changed.emit({"lr_d": lr, "lr_g": lr})
        else:
            self.params_changed.emit({"lr_d": lr})

    @Slot(float)
    def _on_lr_g(self, lr: float) -> None:
        if self._config.ttur > 0:  # the two-time-scale lock: the config derives lr D
            self.lr_d.set_value(lr * self._config.ttur)
            self.params_changed.emit({"lr_g": lr})
        elif self.link.isChecked():
            self.lr_d.set_value(lr)
            self.params_changed.emit({"lr_d": lr, "lr_g": lr})
        else:
            self.params_changed.emit({"lr_g": lr})

    @Slot(str)
    def _on_lr_d_typed(self, text: str) -> None:
        keys = ("lr_d", "lr_g") if self.link.isChecked() and not self._config.ttur else ("lr_d",)
        self.params_changed.emit({k: text for k in keys})

    @Slot(str)
    def _on_lr_g_typed(self, text: str) -> None:
        keys = ("lr_d", "lr_g") if self.link.isChecked() and not self._config.ttur else ("lr_g",)
        self.params_changed.emit({k: text for k in keys})


def _row(form: QFormLayout, label: str, field, tip: str) -> None:
    """A form row whose label and field (a widget, or each widget of a layout) share ``tip``."""
    form.addRow(label, field)
    widgets = [field] if isinstance(field, QWidget) else [
        field.itemAt(i).widget() for i in range(field.count())]
    for w in widgets:
        if w is not None:
            w.setToolTip(tip)
    name = form.labelForField(field)
    if name is not None:
        name.setToolTip(tip)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class LectureBar(QWidget):
    """One line of the controls a lecture needs (presentation mode): play, step, reset,
    loss, k, both learning rates and the speed.

    It emits what the :class:`ControlPanel` emits for the same controls, so the
    window wires both to the same controller slots; :meth:`show_config` and
    :meth:`show_state` keep it in step with the run.
    """

    params_changed = Signal(dict)
    speed_changed = Signal(float)
    play_clicked = Signal()
    step_clicked = Signal()
    reset_clicked = Signal()

    def __init__(self, config: Config, parent=None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(6)
        self.play = QPushButton("Pause")
        self.step = QPushButton("Step")
        self.reset = QPushButton("Reset")
        for button, key in ((self.play, "play"), (self.step, "step"), (self.reset, "reset")):
            button.setToolTip(TIPS[key])
            row.addWidget(button)
        self.play.clicked.connect(self.play_clicked)
        self.step.clicked.connect(self.step_clicked)
        self.reset.clicked.connect(self.reset_clicked)
        self.loss = QComboBox()
        for name in LOSS_NAMES:
            self.loss.addItem(name, name)
        self.loss.activated.connect(
            lambda _i: self.params_changed.emit({"loss": self.loss.currentData()}))
        self.k = QSpinBox()
        self.k.setRange(1, 20)
        self.k.setKeyboardTracking(False)
        self.k.valueChanged.connect(lambda v: self.params_changed.emit({"k": int(v)}))
        self.lr_d = QLineEdit()
        self.lr_g = QLineEdit()
        for edit, key in ((self.lr_d, "lr_d"), (self.lr_g, "lr_g")):
            edit.setFixedWidth(EDIT_WIDTH)
            edit.editingFinished.connect(lambda e=edit, k=key: self._typed(e, k))
        self.speed = QComboBox()
        for label, value in SPEEDS:
            self.speed.addItem(label, value)
        self.speed.activated.connect(
            lambda i: self.speed_changed.emit(float(self.speed.itemData(i))))
        for label, widget, tip in (("loss", self.loss, "loss"), ("k", self.k, "k"),
                                   ("lr D", self.lr_d, "lr_d"), ("lr G", self.lr_g, "lr_g"),
                                   ("speed", self.speed, "speed")):
            name = QLabel(label)
            for w in (name, widget):
                w.setToolTip(TIPS[tip])
            row.addWidget(name)
            row.addWidget(widget)
        row.addStretch(1)
        self.show_config(config)

    def show_config(self, config: Config) -> None:
        """Put ``config`` on the widgets without emitting."""
        for w in (self.loss, self.k):
            w.blockSignals(True)
        try:
            self.loss.setCurrentIndex(max(0, self.loss.findData(config.loss)))
            self.k.setValue(min(config.k, self.k.maximum()))
        finally:
            for w in (self.loss, self.k):
                w.blockSignals(False)
        self.lr_d.setText(_fmt(config.lr_d))
        self.lr_g.setText(_fmt(config.lr_g))

    def set_presentation(self, on: bool) -> None:
        """Text PRESENT_FONT times larger when ``on`` (the bar shows only then, on a projector)."""
        self.setFont(style.scaled_font(QApplication.font(), style.PRESENT_FONT) if on else QFont())
        width = int(round(EDIT_WIDTH * (style.PRESENT_FONT if on else 1.0)))
        for edit in (self.lr_d, self.lr_g):
            edit.setFixedWidth(width)

    def show_state(self, paused: bool, stopped: bool) -> None:
        """Label the play button by what pressing it will do."""
        self.play.setText("Run again" if stopped else "Play" if paused else "Pause")

    def show_speed(self, speed: float) -> None:
        """Show the speed in force without emitting."""
        index = self.speed.findData(speed)
        if index >= 0:
            self.speed.setCurrentIndex(index)

    def _typed(self, edit: QLineEdit, key: str) -> None:
        if edit.isModified():
            edit.setModified(False)
            self.params_changed.emit({key: edit.text()})


def _own_target(data: str) -> str | None:
    """A drawn, loaded or typed target described (points, estimate; components); else None."""
    from ganviz.core import datakey
    from ganviz.core.config import ConfigError

    try:
        return datakey.describe_target(data)
    except ConfigError:
        return None
