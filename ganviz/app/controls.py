"""The control panel: preset, play/pause/step/reset, live training settings, restart settings, layers.

The panel only emits what the user asked for (``params_changed`` with raw
values); the controller validates and applies. :meth:`ControlPanel.show_config`
puts a config on the widgets without emitting anything.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from ganviz.core.config import DATA_1D, DATA_2D, DEVICES, LOSS_NAMES, OPTIMIZERS, Config
from ganviz.core.presets import load_preset, preset_names
from ganviz.views import field1d, field2d

LR_MIN_EXP, LR_MAX_EXP, LR_TICKS = -5.0, 1.0, 100  # slider: 10^-5 .. 10^1, 100 ticks a decade
BATCH_SIZES = ("16", "32", "64", "128", "256", "512", "1024", "2048", "4096")
SPEEDS = (("full speed", 0.0), ("300 it/s", 300.0), ("100 it/s", 100.0), ("30 it/s", 30.0),
          ("10 it/s", 10.0), ("3 it/s", 3.0), ("1 it/s", 1.0))
ARROW_GAINS = (("x 0.1", 0.1), ("x 1", 1.0), ("x 10", 10.0), ("x 100", 100.0),
               ("x 1000", 1000.0))
LOSS_TEXT = {
    "minimax": "minimax: G minimises log(1 - D(G(z))) (saturates when D is sure)",
    "nonsaturating": "non-saturating: G maximises log D(G(z))",
    "wgan": "WGAN: critic D(x) - D(G(z)), weights clipped",
    "wgan-gp": "WGAN-GP: critic with gradient penalty",
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
        self.edit.setFixedWidth(70)
        self.edit.setToolTip("Type a rate, e.g. 2e-4, then Enter")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.edit)
        self.slider.valueChanged.connect(self._on_slider)
        self.edit.editingFinished.connect(self._on_edit)

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
            self._presets[name] = p
            self.preset.addItem(f"{p.title}", name)
        if preset in self._presets:
            self.preset.setCurrentIndex(self.preset.findData(preset))
        lay.addWidget(self.preset)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.explanation)
        outer.addWidget(box)
        self.preset.activated.connect(self._on_preset)
        self.show_preset(preset)

        # Run buttons and speed.
        buttons = QHBoxLayout()
        self.play = QPushButton("Pause")
        self.play.setToolTip("Play / pause (Space)")
        self.step = QPushButton("Step")
        self.step.setToolTip("Pause and train one iteration (S)")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Start again from fresh weights with the settings shown (R)")
        for b in (self.play, self.step, self.reset):
            b.setMinimumHeight(32)
            buttons.addWidget(b)
        outer.addLayout(buttons)
        singles = QHBoxLayout()
        self.step_d = QPushButton("D step")
        self.step_d.setToolTip("Pause and update D alone, once (D)")
        self.step_g = QPushButton("G step")
        self.step_g.setToolTip("Pause and update G alone, once (G)")
        for b in (self.step_d, self.step_g):
            singles.addWidget(b)
        outer.addLayout(singles)
        self.play.clicked.connect(self.play_clicked)
        self.step.clicked.connect(self.step_clicked)
        self.step_d.clicked.connect(self.step_d_clicked)
        self.step_g.clicked.connect(self.step_g_clicked)
        self.reset.clicked.connect(self.reset_clicked)
        self.speed = QComboBox()
        for label, value in SPEEDS:
            self.speed.addItem(label, value)
        self.speed.setToolTip("Slow motion: iterations per second at most")
        self.speed.activated.connect(self._on_speed)
        speed_row = QFormLayout()
        speed_row.addRow("Speed", self.speed)
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
        form.addRow("Loss", self.loss)
        self.k = QSlider(Qt.Orientation.Horizontal)
        self.k.setRange(1, 20)
        self.k_label = QLabel()
        self.k_label.setMinimumWidth(24)
        k_row = QHBoxLayout()
        k_row.addWidget(self.k, 1)
        k_row.addWidget(self.k_label)
        self.k.valueChanged.connect(self._on_k)
        form.addRow("k (D steps)", k_row)
        self.lr_d = LrControl()
        self.lr_g = LrControl()
        self.link = QCheckBox("link D and G rates")
        self.link.setChecked(config.lr_d == config.lr_g)
        form.addRow("lr D", self.lr_d)
        form.addRow("lr G", self.lr_g)
        form.addRow("", self.link)
        self.lr_d.moved.connect(self._on_lr_d)
        self.lr_g.moved.connect(self._on_lr_g)
        self.lr_d.typed.connect(self._on_lr_d_typed)
        self.lr_g.typed.connect(self._on_lr_g_typed)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.activated.connect(
            lambda _i: self._emit("optimizer", self.optimizer.currentText()))
        form.addRow("Optimizer", self.optimizer)
        self.batch = QComboBox()
        self.batch.setEditable(True)
        self.batch.addItems(BATCH_SIZES)
        self.batch.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.batch.activated.connect(lambda _i: self._emit("batch_size", self.batch.currentText()))
        self.batch.lineEdit().editingFinished.connect(
            lambda: self._emit("batch_size", self.batch.currentText()))
        form.addRow("Batch size", self.batch)
        self.clip = QLineEdit()
        self.clip.setToolTip("WGAN weight clipping: each critic weight kept in [-clip, clip]")
        self.clip.editingFinished.connect(lambda: self._typed(self.clip, "clip"))
        form.addRow("Clip (wgan)", self.clip)
        self.gp = QLineEdit()
        self.gp.setToolTip("WGAN-GP: weight of the gradient penalty (lambda)")
        self.gp.editingFinished.connect(lambda: self._typed(self.gp, "gp_weight"))
        form.addRow("GP weight", self.gp)
        outer.addWidget(live)

        # Cold settings.
        cold = QGroupBox("Model and data (restart the run)")
        form = QFormLayout(cold)
        self.data = QComboBox()
        for name in DATA_1D:
            self.data.addItem(f"1-D  {name}", name)
        for name in DATA_2D:
            self.data.addItem(f"2-D  {name}", name)
        self.data.activated.connect(lambda _i: self._emit("data", self.data.currentData()))
        form.addRow("Data", self.data)
        self.z_dim = self._spin(1, 64, "z_dim")
        form.addRow("z dim", self.z_dim)
        self.hidden = self._spin(1, 1024, "hidden")
        form.addRow("Hidden width", self.hidden)
        self.layers = self._spin(1, 8, "layers")
        form.addRow("Hidden layers", self.layers)
        self.seed = self._spin(0, 2**31 - 1, "seed")
        form.addRow("Seed", self.seed)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.activated.connect(lambda _i: self._emit("device", self.device.currentText()))
        form.addRow("Device", self.device)
        outer.addWidget(cold)

        # Layers of the views.
        self.layer_boxes = {}
        for dim, module in ((1, field1d), (2, field2d)):
            box = QGroupBox("Show (1-D view)" if dim == 1 else "Show (2-D view)")
            lay = QVBoxLayout(box)
            lay.setSpacing(2)
            for key, label in module.LAYERS.items():
                check = QCheckBox(label)
                check.setChecked(True)
                check.toggled.connect(
                    lambda on, d=dim, k=key: self.layer_toggled.emit(d, k, on))
                lay.addWidget(check)
            if dim == 2:
                self.arrow_gain = QComboBox()
                for label, value in ARROW_GAINS:
                    self.arrow_gain.addItem(label, value)
                self.arrow_gain.setCurrentIndex(1)
                self.arrow_gain.setToolTip(
                    "Arrow length grows with log10(1 + gain x |gradient| / 0.1): a fixed scale, "
                    "so short arrows mean a vanishing gradient. Raise the gain to see small ones.")
                self.arrow_gain.activated.connect(
                    lambda _i: self.arrow_gain_changed.emit(float(self.arrow_gain.currentData())))
                row = QFormLayout()
                row.addRow("Arrow gain", self.arrow_gain)
                lay.addLayout(row)
            self.layer_boxes[dim] = box
            outer.addWidget(box)
        outer.addStretch(1)
        self.show_config(config)
        self.show_dim(config.dim)

    # --- showing -----------------------------------------------------------

    def show_config(self, config: Config) -> None:
        """Put ``config`` on the widgets without emitting changes."""
        self._config = config
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
            self.data.setCurrentIndex(max(0, self.data.findData(config.data)))
            self.z_dim.setValue(config.z_dim)
            self.hidden.setValue(config.hidden)
            self.layers.setValue(config.layers)
            self.seed.setValue(min(config.seed, self.seed.maximum()))
            self.device.setCurrentText(config.device)
            self.clip.setText(_fmt(config.clip))
            self.gp.setText(_fmt(config.gp_weight))
            self.clip.setEnabled(config.loss == "wgan")
            self.gp.setEnabled(config.loss == "wgan-gp")
        finally:
            for w in widgets:
                w.blockSignals(False)

    def show_dim(self, dim: int) -> None:
        """Show the layer toggles of the view in use."""
        for d, box in self.layer_boxes.items():
            box.setVisible(d == dim)

    def show_preset(self, name: str | None) -> None:
        """Show a preset's title, explanation, what to look for and what to try next."""
        p = self._presets.get(name)
        if p is None:
            self.explanation.setText("<i>Custom settings.</i>")
            return
        parts = [f"<p>{_esc(p.explanation)}</p>"]
        if p.look_for:
            parts.append(f"<p><b>Look for:</b> {_esc(p.look_for)}</p>")
        if p.next:
            parts.append(f"<p><b>Try next:</b> {_esc(p.next)}</p>")
        self.explanation.setText("".join(parts))
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)

    def show_state(self, paused: bool, stopped: bool) -> None:
        """Label the play button by what pressing it will do."""
        if stopped:
            self.play.setText("Run again")
        else:
            self.play.setText("Play" if paused else "Pause")

    # --- emitting ------------------------------------------------------------

    def _spin(self, low: int, high: int, key: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)  # apply on Enter or focus out, not per keystroke
        spin.valueChanged.connect(lambda v: self._emit(key, int(v)))
        return spin

    def _emit(self, key: str, value) -> None:
        if key == "loss":
            self.clip.setEnabled(value == "wgan")
            self.gp.setEnabled(value == "wgan-gp")
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

    @Slot(int)
    def _on_speed(self, index: int) -> None:
        self.speed_changed.emit(float(self.speed.itemData(index)))

    @Slot(int)
    def _on_k(self, k: int) -> None:
        self.k_label.setText(str(k))
        self.params_changed.emit({"k": int(k)})

    @Slot(float)
    def _on_lr_d(self, lr: float) -> None:
        if self.link.isChecked():
            self.lr_g.set_value(lr)
            self.params_changed.emit({"lr_d": lr, "lr_g": lr})
        else:
            self.params_changed.emit({"lr_d": lr})

    @Slot(float)
    def _on_lr_g(self, lr: float) -> None:
        if self.link.isChecked():
            self.lr_d.set_value(lr)
            self.params_changed.emit({"lr_d": lr, "lr_g": lr})
        else:
            self.params_changed.emit({"lr_g": lr})

    @Slot(str)
    def _on_lr_d_typed(self, text: str) -> None:
        keys = ("lr_d", "lr_g") if self.link.isChecked() else ("lr_d",)
        self.params_changed.emit({k: text for k in keys})

    @Slot(str)
    def _on_lr_g_typed(self, text: str) -> None:
        keys = ("lr_d", "lr_g") if self.link.isChecked() else ("lr_g",)
        self.params_changed.emit({k: text for k in keys})


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
