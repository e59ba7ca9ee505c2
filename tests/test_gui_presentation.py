"""Hover explanations on every control and plot, presentation mode, and the freeze boxes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QHelpEvent, QPen
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QLineEdit,
    QToolTip, QWidget,
)

from ganviz.core.config import Config
from ganviz.core.history import History
from test_gui_views import make_snapshot, shown

#: Widgets a user can press, drag, type into or pick from.
INTERACTIVE = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)


@pytest.fixture
def panel(qtbot):
    from ganviz.app.controls import ControlPanel

    p = ControlPanel(Config.from_dict({"data": "bimodal", "z_dim": 1}))
    qtbot.addWidget(p)
    return p


def _interactive(panel) -> list[QWidget]:
    out = []
    for w in panel.findChildren(QWidget):
        if not isinstance(w, INTERACTIVE) or w.window() is not panel.window():
            continue  # not a control, or part of a combo box's drop-down list (a popup)
        if isinstance(w, QLineEdit) and isinstance(w.parent(), QAbstractSpinBox):
            continue  # a spin box's own text field: part of the spin box, which has the tip
        out.append(w)
    return out


def _name(widget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    return f"{type(widget).__name__}({text!r})"


def tooltip_over(view, item) -> str:
    """The tooltip Qt shows when the mouse rests at the centre of ``item`` in ``view``."""
    centre = view.mapFromScene(item.sceneBoundingRect().center())
    event = QHelpEvent(QEvent.Type.ToolTip, centre, view.viewport().mapToGlobal(centre))
    QApplication.sendEvent(view.viewport(), event)
    text = QToolTip.text() if QToolTip.isVisible() else ""
    QToolTip.hideText()
    return text


# --- tooltips ------------------------------------------------------------------


def test_every_control_has_a_tooltip(panel):
    widgets = _interactive(panel)
    assert len(widgets) >= 30  # both layer boxes, every setting, the freeze boxes
    missing = [_name(w) for w in widgets if not w.toolTip().strip()]
    assert not missing, f"controls without a tooltip: {missing}"
    # The row labels explain their control too.
    for field in (panel.loss, panel.optimizer, panel.seed, panel.clip):
        label = field.parentWidget().layout().labelForField(field)
        assert label is not None and label.toolTip() == field.toolTip()


def test_control_tooltips_state_the_theory(panel):
    k = panel.k.toolTip()
    assert "Algorithm 1" in k and "D*" in k
    assert "D*" in panel.freeze_g.toolTip() and "exploit" in panel.freeze_d.toolTip()
    assert "log D(G(z))" in panel.loss.toolTip() and "Lipschitz" in panel.loss.toolTip()
    assert "penalty" in panel.gp.toolTip() and "clip" in panel.clip.toolTip()
    for i in range(panel.loss.count()):  # each loss explained in the drop-down list too
        assert panel.loss.itemData(i, Qt.ItemDataRole.ToolTipRole)


def test_1d_view_tooltips_show_over_the_plots(qtbot, pg_style):
    from ganviz.views.field1d import LAYER_TIPS, LAYERS, TIPS, DensityView1D

    view = shown(qtbot, DensityView1D(), 700, 500)
    view.draw(make_snapshot(1))
    assert "p<sub>data</sub>(x) / (p<sub>data</sub>(x) + p<sub>g</sub>(x))" in TIPS["plot"]
    assert tooltip_over(view, view.plot.vb) == TIPS["plot"]
    assert tooltip_over(view, view.strip.vb) == TIPS["strip"]
    d_star_label = view.legend.items[3][1]
    assert tooltip_over(view, d_star_label) == TIPS["d_star"]
    assert all(label.toolTip() for _sample, label in view.legend.items)
    assert set(LAYER_TIPS) == set(LAYERS) and all(LAYER_TIPS.values())


def test_2d_view_tooltips_show_over_the_plot(qtbot, pg_style):
    from ganviz.views.field2d import LAYER_TIPS, LAYERS, TIPS, FieldView2D

    view = shown(qtbot, FieldView2D(), 700, 600)
    view.draw(make_snapshot(2))
    assert tooltip_over(view, view.plot.vb) == TIPS["plot"]
    assert view.cbar.toolTip() == TIPS["cbar"]
    assert all(label.toolTip() for _sample, label in view.legend.items)
    assert "3 standard deviations" in TIPS["modes"] and "gradient" in TIPS["arrows"]
    assert set(LAYER_TIPS) == set(LAYERS) and all(LAYER_TIPS.values())


def test_time_series_tooltips_show_over_each_plot(qtbot, pg_style):
    from ganviz.views.timeseries import TIPS, TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 500, 900)
    history = History()
    for step in range(5, 100, 5):
        history.add(make_snapshot(2, step=step))
    view.draw(history, make_snapshot(2, step=100))
    for key in view.PANELS:  # every panel, each chosen (900 px hold them all)
        view.set_panel(key, True)
    assert view.shown() == list(view.PANELS)
    QApplication.processEvents()  # the layout places the panels just shown
    for key, plot in view.plots.items():
        assert tooltip_over(view, plot.vb) == TIPS[key], key
    js = TIPS["js"]
    assert "ln 2 = 0.693" in js and "-log 4 + 2 JS" in js and "0 exactly when" in js
    assert "parameters" in TIPS["grad"] and "2 ln 2" in TIPS["loss"]


# --- presentation mode ------------------------------------------------------------


def _look(view) -> dict:
    """What presentation mode changes, as comparable values."""
    plots = [view.plot] if hasattr(view, "plot") else list(view.plots.values())
    if hasattr(view, "strip"):
        plots.append(view.strip)
    look = {}
    for i, plot in enumerate(plots):
        for name in ("left", "bottom", "right"):
            axis = plot.getAxis(name)
            font = axis.style["tickFont"]
            look[f"{i}.{name}.font"] = QFont(font) if font is not None else None
            look[f"{i}.{name}.label"] = dict(axis.labelStyle)
            look[f"{i}.{name}.width"] = axis.fixedWidth
        look[f"{i}.title"] = (plot.titleLabel.opts.get("size"), plot.titleLabel.maximumHeight())
        for j, item in enumerate(plot.items):
            if hasattr(item, "curve"):
                look[f"{i}.curve{j}"] = (QPen(item.opts["pen"]), item.opts["antialias"])
            elif hasattr(item, "pen") and not callable(item.pen):
                look[f"{i}.line{j}"] = QPen(item.pen)
            if hasattr(item, "opts") and "size" in getattr(item, "opts", {}) \
                    and not hasattr(item, "curve"):
                look[f"{i}.size{j}"] = item.opts["size"]
    legend = getattr(view, "legend", None)
    if legend is not None:
        look["legend"] = [label.opts.get("size") for _s, label in legend.items]
    return look


def _views(qtbot):
    from ganviz.views.field1d import DensityView1D
    from ganviz.views.field2d import FieldView2D
    from ganviz.views.timeseries import TimeSeriesView

    made = {"1d": DensityView1D(), "2d": FieldView2D(), "series": TimeSeriesView()}
    for v in made.values():
        qtbot.addWidget(v)
        v.resize(600, 600)
        v.show()
    return made


def _draw(key, view, critic=False):
    if key == "series":
        history = History()
        for step in range(5, 60, 5):
            history.add(make_snapshot(2, step=step, critic=critic))
        view.draw(history, make_snapshot(2, step=60, critic=critic))
    else:
        view.draw(make_snapshot(1 if key == "1d" else 2, critic=critic, step=7 + critic))


@pytest.mark.parametrize("key", ["1d", "2d", "series"])
def test_presentation_enlarges_then_restores_exactly(qtbot, pg_style, key):
    view = _views(qtbot)[key]
    _draw(key, view)
    plot = view.plot if key != "series" else view.plots["js"]
    curve = {"1d": lambda: view.p_g, "2d": lambda: view.outline,
             "series": lambda: view.js}[key]()
    axis = plot.getAxis("left")
    normal = _look(view)
    width, font = curve.opts["pen"].widthF(), axis.style["tickFont"].pointSizeF()

    view.set_presentation(True)
    view.set_presentation(True)  # twice: still one step up
    if key == "2d":  # the mode circles (per-circle pens) are redrawn at once
        assert view.modes.data["pen"][0].widthF() == pytest.approx(4.0)
    _draw(key, view, critic=True)  # a run that changes titles and labels while presenting
    assert curve.opts["pen"].widthF() == pytest.approx(2 * width)
    assert axis.style["tickFont"].pointSizeF() == pytest.approx(1.6 * font)
    assert axis.fixedWidth is None or axis.fixedWidth > normal["0.left.width"]
    big = _look(view)
    changed = [k for k in normal if normal[k] != big[k]]
    assert len(changed) >= 8, changed
    if key == "2d":
        assert view.real.opts["size"] > normal[f"0.size{view.plot.items.index(view.real)}"]
    if key == "series":  # noisy 1 px curves: wider, but not antialiased (50x cheaper)
        assert view.loss_d.opts["pen"].widthF() == pytest.approx(2.0)
        assert not view.loss_d.opts["antialias"]

    view.set_presentation(False)
    if key == "2d":
        assert view.modes.data["pen"][0].widthF() == pytest.approx(2.0)
    _draw(key, view, critic=False)
    after = _look(view)
    assert after == normal, [k for k in normal if normal[k] != after[k]]


def test_series_titles_keep_their_presentation_size(qtbot, pg_style):
    view = _views(qtbot)["series"]
    _draw("series", view)
    dout = view.plots["dout"].titleLabel
    normal = dout.opts["size"], dout.maximumHeight()
    view.set_presentation(True)
    big = dout.opts["size"], dout.maximumHeight()
    assert float(big[0][:-2]) == pytest.approx(1.6 * float(normal[0][:-2]))
    _draw("series", view, critic=True)  # the title is rewritten: critic(real) ...
    assert "critic" in dout.text and (dout.opts["size"], dout.maximumHeight()) == big
    view.set_presentation(False)
    assert (dout.opts["size"], dout.maximumHeight()) == normal


def test_control_panel_presentation_fonts(panel):
    from ganviz.app.controls import EDIT_WIDTH

    normal = QFont(panel.font())
    button = QFont(panel.step.font())
    tip = QFont(QToolTip.font())
    panel.set_presentation(True)
    assert panel.step.font().pointSizeF() == pytest.approx(1.6 * button.pointSizeF())
    assert QToolTip.font().pointSizeF() == pytest.approx(1.6 * tip.pointSizeF())
    assert panel.lr_d.edit.width() > EDIT_WIDTH
    panel.set_presentation(False)
    assert panel.font() == normal and panel.step.font() == button
    assert QToolTip.font() == tip
    assert panel.lr_d.edit.width() == EDIT_WIDTH
    # Back to inheriting: a later change of the application font still reaches it.
    assert not panel.testAttribute(Qt.WidgetAttribute.WA_SetFont)


# --- freeze D / freeze G ----------------------------------------------------------


def test_freeze_boxes_emit_and_show_freeze_does_not(panel):
    got = []
    panel.freeze_changed.connect(lambda which, on: got.append((which, on)))
    panel.freeze_d.click()
    panel.freeze_g.click()
    panel.freeze_d.click()
    assert got == [("d", True), ("g", True), ("d", False)]
    got.clear()
    panel.show_freeze(True, False)
    assert panel.freeze_d.isChecked() and not panel.freeze_g.isChecked()
    panel.show_freeze(False, True)
    assert not panel.freeze_d.isChecked() and panel.freeze_g.isChecked()
    assert got == []
    panel.freeze_g.click()  # the boxes still work after show_freeze
    assert got == [("g", False)]


def test_large_titles_never_widen_a_plot_beyond_its_widget(qtbot, pg_style):
    """A title's text width was its plot's minimum width: at 1.6x the 2-D title alone
    asked for 609 px and pushed the colour bar out of a window 1600 px wide."""
    from ganviz.views.field2d import FieldView2D
    from ganviz.views.timeseries import TimeSeriesView

    series, field = TimeSeriesView(), FieldView2D()
    for view in (series, field):
        qtbot.addWidget(view)
        view.resize(420, 700)
        view.show()
        view.set_presentation(True)
    qtbot.wait(50)
    for plot in [*series.plots.values(), field.plot]:
        assert plot.titleLabel.minimumWidth() == 0
        assert plot.titleLabel.text  # the title is still there
    for plot in series.plots.values():
        assert plot.geometry().right() <= series.width()
    assert field.cbar.geometry().right() <= field.width()


def test_drawing_and_editing_handles_grow_in_presentation_mode_and_come_back(qtbot, pg_style):
    # On a projector the mixture editor's handles, rings and weight labels are read from
    # the back of the room; the pick radius grows with the handles.
    from ganviz.views import style
    from ganviz.views.draw import PICK_PX, DrawOverlay, MixtureEditor
    from ganviz.views.field2d import FieldView2D

    view = shown(qtbot, FieldView2D(), 600, 500)
    editor, brush = MixtureEditor(2), DrawOverlay(2)
    view.add_overlay(editor)
    view.add_overlay(brush)
    editor.set_components([1.0, 1.0], [[-1.0, 0.0], [1.0, 1.0]], [0.3, 0.2])  # labels now
    label_pt = editor.labels[0].textItem.font().pointSizeF()
    ring_w = editor.rings.opts["pen"].widthF()
    view.set_presentation(True)
    assert editor.centres.opts["size"] == pytest.approx(14 * style.PRESENT_SIZE)
    assert editor.sizers.opts["size"] == pytest.approx(10 * style.PRESENT_SIZE)
    assert brush.scatter.opts["size"] == pytest.approx(5 * style.PRESENT_SIZE)
    assert editor.rings.opts["pen"].widthF() == pytest.approx(ring_w * style.PRESENT_PEN)
    assert editor.labels[0].textItem.font().pointSizeF() == pytest.approx(label_pt * style.PRESENT_FONT)
    assert editor.pick_px() == pytest.approx(PICK_PX * style.PRESENT_SIZE)
    editor.set_components([1.0, 1.0, 1.0], [[-1, 0], [1, 1], [0, 2]], [0.3, 0.2, 0.2])
    assert editor.labels[2].textItem.font().pointSizeF() == pytest.approx(label_pt * style.PRESENT_FONT)
    view.set_presentation(False)
    assert (editor.centres.opts["size"], brush.scatter.opts["size"]) == (14, 5)
    assert editor.rings.opts["pen"].widthF() == ring_w and editor.pick_px() == PICK_PX
    assert all(label.textItem.font().pointSizeF() == label_pt for label in editor.labels)
