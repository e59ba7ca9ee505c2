"""The "Update & regularisers" group of the control panel, and its formulas for tooltips and Help.

Each row edits one config key (the names of ganviz/core/config.py's
DYNAMICS_KEYS); the group emits raw values and the controller validates them,
as for every other control. The group starts collapsed: Algorithm 1 with no
regulariser is what most scenarios teach.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QLineEdit, QToolButton, QVBoxLayout, QWidget,
)

from ganviz.core.config import UPDATES, Config

#: Each key's tooltip: what it does, its formula, and whether it applies live (rich text).
OPTION_TIPS = {
    "update": "<b>update</b>: how D's and G's optimizer steps interleave (applies at the next step)."
              "<br><b>alternating</b>: k D steps, then one G step at the new D (Algorithm 1)."
              "<br><b>simultaneous</b>: both gradients at (phi<sub>t</sub>, theta<sub>t</sub>), "
              "then both steps; k = 1."
              "<br><b>extragradient</b>: a step to x<sub>1/2</sub>, then the gradients there "
              "applied from x<sub>t</sub> (Korpelevich 1976; Gidel et al. 2019); k = 1."
              "<br><b>optimistic</b>: x<sub>t+1</sub> = x<sub>t</sub> + 2 Delta<sub>t</sub> - "
              "Delta<sub>t-1</sub>, Delta the optimizer's step (Daskalakis et al. 2018); k = 1.",
    "r1": "<b>R1</b> gamma: D also minimises (gamma/2) E<sub>x~p<sub>data</sub></sub> "
          "|grad<sub>x</sub> D(x)|<sup>2</sup>, a zero-centred penalty on real samples "
          "(Mescheder et al. 2018). Live.",
    "r2": "<b>R2</b> gamma: D also minimises (gamma/2) E<sub>z</sub> |grad<sub>x</sub> "
          "D(G(z))|<sup>2</sup>, the same penalty on generated samples. Live.",
    "consensus": "<b>consensus</b> gamma (Mescheder et al. 2017, The numerics of GANs): with v "
                 "= (grad<sub>phi</sub> L<sub>D</sub>, grad<sub>theta</sub> L<sub>G</sub>), both "
                 "players also descend gamma |v|<sup>2</sup>/2: direction v + gamma "
                 "J<sup>T</sup> v. Needs second derivatives: the run uses the autograd engine "
                 "(slower; the status bar says so). Not with wgan's clipping. Live.",
    "instance_noise": "<b>instance noise</b> sigma: D sees every sample, real and generated, as "
                      "x + sigma n, n ~ N(0, I), in D's and G's steps (Sonderby et al. 2016; "
                      "Arjovsky and Bottou 2017). Live.",
    "instance_noise_anneal": "<b>anneal</b> T: sigma<sub>t</sub> = sigma max(0, 1 - t / T) at "
                             "iteration t, down to 0 after T iterations; 0 keeps sigma constant.",
    "ema": "<b>EMA</b> beta: theta<sub>ema</sub> &larr; beta theta<sub>ema</sub> + (1 - beta) "
           "theta after each iteration (Yazici et al. 2019). When on, the views draw and the "
           "metrics measure the average, not G itself. 0: off. Live.",
    "adam_beta1": "<b>Adam beta1</b>: m &larr; beta1 m + (1 - beta1) g (0.5 as in DCGAN; 0 in "
                  "many GAN papers; 0.9 is Adam's default). Adam only. Live.",
    "adam_beta2": "<b>Adam beta2</b>: v &larr; beta2 v + (1 - beta2) g<sup>2</sup> (0.999; "
                  "0.9 or 0.99 in many GAN papers). Adam only. Live.",
    "spectral_norm": "<b>spectral norm</b> (Miyato et al. 2018): each layer of D is W / sigma(W), "
                     "sigma = u<sup>T</sup> W v from one power iteration per D update. Uses the "
                     "autograd engine. Changing it restarts the run.",
    "ttur": "<b>two time scales</b> r (Heusel et al. 2017): lr D = r * lr G, kept while either "
            "slider moves (G's rate leads). 0: the rates are free. Live.",
}

#: The Help menu's page on these options.
OPTIONS_HELP = (
    "<h3>Update rules and regularisers</h3>"
    "<p>Each is a config key (the same name in presets, sessions and <tt>--set</tt>); "
    "docs/dynamics-options.md has the definitions in full. The toy games of the dynamics lab "
    "use the same ones.</p>"
    + "".join(f"<p>{OPTION_TIPS[k]}</p>" for k in OPTION_TIPS)
    + "<p>The fast engine computes everything here by hand except consensus and spectral "
      "normalisation, whose gradients come from torch.autograd: the status bar then says "
      "<i>autograd engine: ... on</i>. Every option is checked against an independent "
      "autograd computation in float64 (tests/test_options.py).</p>"
)

#: The text boxes: key, label.
_EDITS = (("r1", "R1 gamma"), ("r2", "R2 gamma"), ("consensus", "Consensus gamma"),
          ("instance_noise", "Instance noise"), ("instance_noise_anneal", "Noise anneal (it)"),
          ("ema", "EMA of G"), ("adam_beta1", "Adam beta1"), ("adam_beta2", "Adam beta2"),
          ("ttur", "lr D / lr G lock"))


class OptionsGroup(QWidget):
    """A collapsible group of rows, one per key of config.DYNAMICS_KEYS; starts collapsed."""

    params_changed = Signal(dict)

    def __init__(self, config: Config, parent=None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.toggle = QToolButton()
        self.toggle.setText("Update && regularisers")  # && : a plain ampersand, not a mnemonic
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setToolTip("Update rules, gradient penalties, consensus, instance noise, "
                               "EMA, Adam's betas, spectral norm, two time scales")
        self.toggle.toggled.connect(self.set_expanded)
        outer.addWidget(self.toggle)
        self.body = QWidget()
        form = QFormLayout(self.body)
        form.setContentsMargins(8, 0, 0, 0)
        self.update_rule = QComboBox()
        self.update_rule.addItems(UPDATES)
        self.update_rule.activated.connect(
            lambda _i: self.params_changed.emit({"update": self.update_rule.currentText()}))
        self._row(form, "Update rule", self.update_rule, "update")
        self.edits: dict[str, QLineEdit] = {}
        for key, label in _EDITS:
            edit = QLineEdit()
            edit.editingFinished.connect(lambda e=edit, k=key: self._typed(e, k))
            self.edits[key] = edit
            self._row(form, label, edit, key)
        self.spectral_norm = QCheckBox("Spectral norm on D (restarts)")
        self.spectral_norm.toggled.connect(
            lambda on: self.params_changed.emit({"spectral_norm": int(bool(on))}))
        self._row(form, "", self.spectral_norm, "spectral_norm")
        outer.addWidget(self.body)
        self.set_expanded(False)
        self.show_config(config)

    @staticmethod
    def _row(form: QFormLayout, label: str, widget: QWidget, key: str) -> None:
        form.addRow(label, widget)
        widget.setToolTip(OPTION_TIPS[key])
        name = form.labelForField(widget)
        if name is not None:
            name.setToolTip(OPTION_TIPS[key])

    def set_expanded(self, on: bool) -> None:
        """Show or hide the rows (the button's arrow follows)."""
        self.toggle.blockSignals(True)
        self.toggle.setChecked(bool(on))
        self.toggle.blockSignals(False)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(bool(on))

    def show_config(self, config: Config) -> None:
        """Put ``config``'s values on the rows without emitting."""
        for w in (self.update_rule, self.spectral_norm):
            w.blockSignals(True)
        try:
            self.update_rule.setCurrentText(config.update)
            self.spectral_norm.setChecked(bool(config.spectral_norm))
        finally:
            for w in (self.update_rule, self.spectral_norm):
                w.blockSignals(False)
        for key, edit in self.edits.items():
            edit.setText(f"{getattr(config, key):g}")
        self.edits["adam_beta1"].setEnabled(config.optimizer == "adam")
        self.edits["adam_beta2"].setEnabled(config.optimizer == "adam")

    def _typed(self, edit: QLineEdit, key: str) -> None:
        if edit.isModified():
            edit.setModified(False)
            self.params_changed.emit({key: edit.text()})
