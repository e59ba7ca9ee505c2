"""The Help menu's texts: keyboard shortcuts and a short guide to what the plots show."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QMessageBox, QVBoxLayout, QWidget

#: (keys, what they do), in the order the Help menu lists them.
SHORTCUTS = (
    ("Space", "Play / pause"),
    ("S", "Pause and train one iteration (k D steps, then one G step)"),
    ("D", "Pause and update D alone, once"),
    ("G", "Pause and update G alone, once"),
    ("R", "Reset: fresh weights, the settings shown"),
    ("F11", "Presentation mode: full screen, large fonts, thick lines"),
    ("H", "Show or hide the controls"),
    ("Ctrl+O", "Open a session file"),
    ("Ctrl+S", "Save the session (config, exact state, history)"),
    ("Ctrl+D", "Draw the target with the mouse (Play trains on the drawing)"),
    ("Ctrl+M", "Edit the mixture's components on the plot"),
    ("Ctrl+Shift+O", "Open a target: a CSV or NPY file of your points"),
    ("Ctrl+E", "Export the window as PNG or SVG"),
    ("Ctrl+Shift+E", "Export the metrics history as CSV"),
    ("Ctrl+R", "Start recording; again to stop and save a GIF or MP4"),
    ("Ctrl+K", "Compare variants of the scenario side by side (one key, 2 to 6 values)"),
    ("Ctrl+Q", "Quit"),
)

GUIDE = """
<h3>What ganviz shows</h3>
<p><b>p<sub>data</sub></b> (green) is the target, drawn from its exact density;
<b>p<sub>g</sub></b> (orange) is the generator's distribution, estimated from
10<sup>4</sup> samples.</p>
<p><b>D(x)</b> is the discriminator's probability that x is real. For a fixed
G the best D is <b>D*(x) = p<sub>data</sub>(x) / (p<sub>data</sub>(x) + p<sub>g</sub>(x))</b>
(Goodfellow et al. 2014), drawn dashed beside D in 1-D. At the optimum
p<sub>g</sub> = p<sub>data</sub> and D* = 1/2 everywhere.</p>
<p><b>JS</b> is the Jensen-Shannon divergence in nats: 0 when p<sub>g</sub> =
p<sub>data</sub>, ln 2 = 0.693 when they do not overlap. With D = D* the
minimax value is C(G) = -log 4 + 2 JS. When JS saturates at ln 2, the minimax
generator's gradient vanishes: watch <i>grad norm G</i>; the non-saturating
loss keeps it alive. The Wasserstein critic's W1 keeps decreasing as the
distributions approach, even when they do not overlap.</p>
<p><b>k</b> is the number of D steps per G step (Algorithm 1). Freeze D to see
G exploit a fixed D; freeze G to see D converge towards D*.</p>
"""


def shortcuts_html() -> str:
    """The shortcut table as rich text."""
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    return f"<h3>Keyboard shortcuts</h3><table>{rows}</table>"


def presenting(parent) -> bool:
    """Whether ``parent`` (the main window) is in presentation mode: dialogs scale with it."""
    return bool(getattr(parent, "presenting", False))


def _scale(dialog: QWidget, parent) -> QWidget:
    """Text PRESENT_FONT times larger in presentation mode (a projector)."""
    if presenting(parent):
        from PySide6.QtWidgets import QApplication

        from ganviz.views import style

        dialog.setFont(style.scaled_font(QApplication.font(), style.PRESENT_FONT))
    return dialog


def _message(parent: QWidget, title: str, text: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok,
                      parent)
    return _scale(box, parent)


def show_shortcuts(parent: QWidget) -> None:
    """The keyboard shortcuts in a dialog."""
    _message(parent, "ganviz: keyboard shortcuts", shortcuts_html()).exec()


def show_options(parent: QWidget) -> None:
    """The update rules and regularisers, with their formulas, in a dialog."""
    from ganviz.app.options import OPTIONS_HELP

    _message(parent, "ganviz: update rules and regularisers", OPTIONS_HELP).exec()


def show_guide(parent: QWidget) -> None:
    """What the plots show, in a dialog."""
    _message(parent, "ganviz: what the plots show", GUIDE).exec()


THEORY = """
<p>p<sub>data</sub> = N(0, 1) and a generator that shifts its noise: p<sub>g</sub> = N(b, 1).
With D = D* held fixed (Goodfellow et al. 2014; Arjovsky and Bottou 2017), the
<b>minimax</b> generator's gradient is 2 dJS/db and vanishes like exp(-b&sup2;/8) once
the two stop overlapping: at b = 10 it is 4.5e-6. The <b>non-saturating</b> loss's
gradient tends to |b|; the <b>Wasserstein</b> critic's slope stays 1. Exact values, no
sampling. Try the <i>vanishing-gradients</i> preset to see it happen in training.</p>
"""


def theory_dialog(parent: QWidget) -> QDialog:
    """A dialog with the closed-form JS and gradient curves against the shift b."""
    import numpy as np

    from ganviz.core.theory import gaussian_shift_curves
    from ganviz.views.theory import TheoryView

    dialog = _scale(QDialog(parent), parent)
    dialog.setWindowTitle("ganviz: why the minimax gradient vanishes")
    scale = 1.4 if presenting(parent) else 1.0
    dialog.resize(int(820 * scale), int(680 * scale))
    layout = QVBoxLayout(dialog)
    text = QLabel(THEORY)
    text.setWordWrap(True)
    layout.addWidget(text)
    dialog.view = TheoryView(gaussian_shift_curves(np.linspace(0.05, 12.0, 479)))
    dialog.view.set_presentation(presenting(parent))
    layout.addWidget(dialog.view, 1)
    return dialog
