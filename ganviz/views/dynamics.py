"""The dynamics lab's plots: a toy game's field, a trajectory, its distance, the spectra.

Left: the field w(theta, psi) the players follow (arrows; length grows with the
square root of the speed |w|), the trajectory of the chosen update
rule from a start marker the user drags (or clicks to place), and the equilibrium.
Right, top: the distance to the equilibrium over iterations (log scale). Right,
bottom: the complex plane with the unit circle: the eigenvalues of the field's
Jacobian at the equilibrium (stable when left of the imaginary axis) and those of
the update operator (stable inside the circle), and the spectral radius.

The numbers come from ganviz/core/dynamics.py (numpy); nothing here trains.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from ganviz.core import dynamics as dyn
from ganviz.views import style

#: Arrows per side of the field's grid.
GRID = 21
#: The distance plot's floor: an iterate exactly at the equilibrium is drawn here.
FLOOR = 1e-30
FIELD_COLOUR = style.DISC
TRAJECTORY = style.GEN
JACOBIAN = style.DATA
UPDATE = style.ACCENT

TIPS = {
    "field": "The field w(theta, psi) the players follow: theta descends its loss, psi ascends.<br>"
             "Arrows show its direction; longer arrows are faster. The orange line is the "
             "chosen update rule's path from the start (drag the marker, or click to place it); "
             "the white cross is the equilibrium (0, 0).",
    "distance": "Distance |(theta, psi)| to the equilibrium after each iteration (log scale).",
    "spectrum": "Green: eigenvalues of the field's Jacobian at the equilibrium "
                "(left of the dashed axis: the continuous flow converges).<br>"
                "Yellow: eigenvalues of one iteration of the update rule "
                "(inside the unit circle: the iterates converge; on it: they cycle; "
                "outside: they move away). The spectral radius ρ is the largest modulus "
                "among the latter: what the iterates do near (0, 0).",
    "live": "Eigenvalues of the Jacobian of the real run's gradient field "
            "v = (-grad_D loss_D, -grad_G loss_G) at its current weights, on one minibatch.<br>"
            "Right of the dashed axis: directions that push away; far from the real axis: "
            "rotation. A step of size h moves along an eigenvector by 1 + h λ.",
    "rotation": "max |Im λ| / max |Re λ| of each spectrum taken: how much the fastest "
                "directions rotate rather than pull (high: the cycling of the Dirac-GAN).",
}


class DynamicsView(pg.GraphicsLayoutWidget):
    """Field and trajectory, distance and spectra of one toy game, redrawn by :meth:`show_game`.

    Signals
    -------
    start_moved(float, float)
        The user dragged or placed the start at (theta0, psi0).
    """

    start_moved = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)

        f = self.field_plot = self.addPlot(row=0, col=0, rowspan=2)
        style.style_plot(f, left="psi (D's slope)", bottom="theta (G's position)")
        f.setAspectLocked(True)
        f.setMenuEnabled(False)
        f.setToolTip(TIPS["field"])
        self.arrows = pg.PlotDataItem(connect="pairs", pen=style.pen(FIELD_COLOUR, 1.3))
        f.addItem(self.arrows)
        self.path = pg.PlotDataItem(pen=style.pen(TRAJECTORY, 2.2), connect="finite")
        f.addItem(self.path)
        self.end = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(TRAJECTORY), pen=None)
        f.addItem(self.end)
        self.equilibrium = pg.ScatterPlotItem([0.0], [0.0], symbol="x", size=14,
                                              brush=pg.mkBrush(style.OPTIMAL), pen=None)
        f.addItem(self.equilibrium)
        self.clip_lines = [pg.InfiniteLine(angle=0, pen=style.pen(style.MUTED, 1.2, dash=True))
                           for _ in range(2)]  # psi_clip's bounds, when it clips
        for line in self.clip_lines:
            line.setVisible(False)
            f.addItem(line)
        self.start = pg.TargetItem(pos=(1.0, 1.0), size=14, movable=True,
                                   pen=style.pen(style.OPTIMAL, 2))
        f.addItem(self.start)
        self.start.sigPositionChangeFinished.connect(self._on_dragged)
        f.vb.sigRangeChanged.connect(self._on_range)
        f.scene().sigMouseClicked.connect(self._on_clicked)

        d = self.distance_plot = self.addPlot(row=0, col=1)
        style.style_plot(d, left="distance", bottom="iteration")
        d.setLogMode(y=True)
        d.setToolTip(TIPS["distance"])
        self.distance = d.plot(pen=style.pen(TRAJECTORY, 2.0), connect="finite")

        s = self.spectrum_plot = self.addPlot(row=1, col=1)
        style.style_plot(s, left="Im", bottom="Re")
        s.setAspectLocked(True)
        s.setToolTip(TIPS["spectrum"])
        angle = np.linspace(0, 2 * math.pi, 241)
        s.plot(np.cos(angle), np.sin(angle), pen=style.pen(style.MUTED, 1.2))
        s.addItem(pg.InfiniteLine(pos=0, angle=90, pen=style.pen(style.MUTED, 1.0, dash=True)))
        s.addItem(pg.InfiniteLine(pos=0, angle=0, pen=style.pen(style.MUTED, 0.6)))
        self.field_eigen = pg.ScatterPlotItem(size=11, symbol="o", brush=pg.mkBrush(JACOBIAN),
                                              pen=None)
        self.update_eigen = pg.ScatterPlotItem(size=11, symbol="s", brush=pg.mkBrush(UPDATE),
                                               pen=None)
        s.addItem(self.field_eigen)
        s.addItem(self.update_eigen)
        self.game: dyn.Game | None = None
        self.points = np.zeros((1, 2))
        self.radius = math.nan
        self._extent = 0.0

    # --- drawing ----------------------------------------------------------------------------

    def show_game(self, game: dyn.Game, start=(1.0, 1.0), steps: int = 500) -> None:
        """Compute and draw ``game``'s field, its trajectory from ``start`` and its spectra."""
        self.game = game
        theta0, psi0 = float(start[0]), float(start[1])
        self.points = dyn.trajectory(game, theta0, psi0, steps)
        jac, upd = dyn.eigenvalues(game), dyn.update_eigenvalues(game)
        self.radius = float(np.abs(upd).max())

        self._draw_field(game, reach(self.points, (theta0, psi0)))
        for line, sign in zip(self.clip_lines, (1, -1)):
            line.setVisible(game.psi_clip is not None)
            line.setPos(sign * (game.psi_clip or 0.0))
        d = "phi" if game.kind == "bilinear" else "psi"
        self.field_plot.setLabel("left", f"{d} (D's slope)", **{"font-size": f"{style.FONT_SIZE}pt", "color": style.LABEL})
        finite = np.isfinite(self.points).all(axis=1)
        self.path.setData(self.points[:, 0], self.points[:, 1])
        last = self.points[finite][-1:]
        self.end.setData(last[:, 0], last[:, 1])
        self.start.blockSignals(True)
        self.start.setPos(theta0, psi0)
        self.start.blockSignals(False)

        dist = dyn.distance(self.points)
        dist = np.where(np.isfinite(dist), np.maximum(dist, FLOOR), np.nan)
        self.distance.setData(np.arange(len(dist)), dist)
        shown = dist[np.isfinite(dist)]
        if len(shown):  # whole decades, at least one: a log axis labels only decades
            low = math.floor(math.log10(shown.min()))
            high = max(math.ceil(math.log10(shown.max())), low + 1)
            self.distance_plot.setYRange(low, high, padding=0.02)
            # decades only (every other one past 8): minor labels crowd a short axis
            every = 1 if high - low <= 8 else 2
            self.distance_plot.getAxis("left").setTicks(
                [[(k, _decade(k)) for k in range(low, high + 1, every)], []])
            self.distance_plot.setXRange(0, len(dist) - 1, padding=0.02)
        self.distance_plot.setTitle(f"distance after {steps}: {_number(dist[-1])}",
                                    size=f"{style.FONT_SIZE}pt", color="#e8e8e8")

        self.field_eigen.setData(jac.real, jac.imag)
        self.update_eigen.setData(upd.real, upd.imag)
        span = max(1.25, float(np.abs(np.concatenate([jac, upd])).max()) * 1.1)
        self.spectrum_plot.setRange(xRange=(-span, span), yRange=(-span, span), padding=0)
        self.spectrum_plot.setTitle(
            f"<span style='color:{JACOBIAN}'>● Jacobian</span>  "
            f"<span style='color:{UPDATE}'>■ update</span>  "
            f"spectral radius ρ <b>{self.radius:.6f}</b> ({verdict(self.radius)})",
            size=f"{style.FONT_SIZE}pt", color="#e8e8e8")
        names = {"dirac": "Dirac-GAN", "bilinear": "bilinear game"}
        self.field_plot.setTitle(
            f"{names[game.kind]}: {game.loss if game.kind == 'dirac' else 'theta*phi'}, "
            f"{game.update}" + (f" k={game.k}" if game.update == "alternating" else "")
            + "".join(f", {k}={getattr(game, k):g}" for k in
                      ("r1", "r2", "instance_noise", "consensus") if getattr(game, k)),
            size=f"{style.FONT_SIZE + 1}pt", color="#e8e8e8")

    def _draw_field(self, game: dyn.Game, extent: float) -> None:
        """Show [-extent, extent]^2 (the start and the path), and arrows over the view."""
        if extent != self._extent:
            self._extent = extent
            self.field_plot.setRange(xRange=(-extent, extent), yRange=(-extent, extent),
                                     padding=0.02)  # redraws the arrows (_on_range)
        self._on_range()

    def _on_range(self, *_) -> None:
        """Arrows over the whole visible area, as the view is resized, panned or zoomed."""
        if getattr(self, "game", None) is None:  # before the first game
            return
        (x0, x1), (y0, y1) = self.field_plot.vb.viewRange()
        segments, self.field_speed = arrow_segments(self.game, (x0, x1), (y0, y1))
        self.arrows.setData(segments[:, 0], segments[:, 1])

    # --- the start --------------------------------------------------------------------------

    def _on_dragged(self) -> None:
        pos = self.start.pos()
        self.start_moved.emit(float(pos.x()), float(pos.y()))

    def _on_clicked(self, event) -> None:
        vb = self.field_plot.vb
        if event.double() or not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        pos = vb.mapSceneToView(event.scenePos())
        self.start_moved.emit(float(pos.x()), float(pos.y()))


class MultiplesView(pg.GraphicsLayoutWidget):
    """Small multiples: one field-and-trajectory panel per game, on linked axes.

    Each panel is titled by the setting that differs (``r1=0.3``) and its
    spectral radius against 1 (green below: converges; yellow at 1: cycles;
    orange above: moves away); the axes of all panels move together.
    """

    #: Most panels drawn at once.
    MOST = 6

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.panels: list[pg.PlotItem] = []
        self.radii: list[float] = []

    def show_games(self, games, labels, start=(1.0, 1.0), steps: int = 500) -> None:
        """Draw up to MOST ``games``, each titled by its ``labels`` entry, from one start."""
        games, labels = list(games)[:self.MOST], list(labels)[:self.MOST]
        self.clear()
        self.panels, self.radii = [], []
        theta0, psi0 = float(start[0]), float(start[1])
        paths = [dyn.trajectory(game, theta0, psi0, steps) for game in games]
        # The widest picture within twice the narrowest: one diverging panel must not
        # shrink the others' paths to dots (its title says it moves away).
        reaches = sorted(reach(points, (theta0, psi0)) for points in paths)
        extent = max(r for r in reaches if r <= 2 * reaches[0])
        cols = len(games) if len(games) <= 3 else 2 if len(games) == 4 else 3
        size = f"{style.FONT_SIZE}pt"
        for i, (game, label) in enumerate(zip(games, labels)):
            plot = self.addPlot(row=i // cols, col=i % cols)
            style.style_plot(plot, left="psi" if i % cols == 0 else None,
                             bottom="theta" if i // cols == (len(games) - 1) // cols else None)
            plot.setMenuEnabled(False)
            plot.setAspectLocked(True)
            arrows = plot.plot(connect="pairs", pen=style.pen(FIELD_COLOUR, 1.0))
            plot.vb.sigRangeChanged.connect(
                lambda vb, *_, g=game, a=arrows: _arrows_over(vb, g, a, grid=15))
            points = paths[i]
            plot.plot(points[:, 0], points[:, 1], pen=style.pen(TRAJECTORY, 2.0),
                      connect="finite")
            finite = points[np.isfinite(points).all(axis=1)][-1:]
            plot.addItem(pg.ScatterPlotItem(finite[:, 0], finite[:, 1], size=8,
                                            brush=pg.mkBrush(TRAJECTORY), pen=None))
            plot.addItem(pg.ScatterPlotItem([0.0], [0.0], symbol="x", size=12,
                                            brush=pg.mkBrush(style.OPTIMAL), pen=None))
            plot.addItem(pg.ScatterPlotItem([theta0], [psi0], symbol="o", size=9, pen=
                                            style.pen(style.OPTIMAL, 1.5), brush=None))
            radius = dyn.spectral_radius(game)
            self.radii.append(radius)
            colour = {"converges": style.DATA, "cycles": style.ACCENT}.get(verdict(radius),
                                                                            style.GEN)
            sign = {"converges": "<", "cycles": "="}.get(verdict(radius), ">")
            plot.setTitle(f"<b>{label}</b>  <span style='color:{colour}'>"
                          f"ρ = {radius:.4f} {sign} 1</span>", size=size, color="#e8e8e8")
            plot.disableAutoRange()
            if self.panels:
                plot.setXLink(self.panels[0])
                plot.setYLink(self.panels[0])
            self.panels.append(plot)
        for plot in self.panels:  # after the links: every panel draws its arrows
            plot.setRange(xRange=(-extent, extent), yRange=(-extent, extent), padding=0.02)


class SpectrumView(pg.GraphicsLayoutWidget):
    """The real run's spectrum: eigenvalues of its field Jacobian, and the rotation over time.

    Left: the complex plane (stable left of the dashed imaginary axis), the
    eigenvalues of J (green) and, with consensus on, of J - gamma J^T J (yellow).
    Right: the rotation index max |Im| / max |Re| at each spectrum taken (log scale).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        p = self.plane = self.addPlot(row=0, col=0)
        style.style_plot(p, left="Im λ", bottom="Re λ  (1 / unit step)")
        p.setAspectLocked(True)
        p.setToolTip(TIPS["live"])
        p.addItem(pg.InfiniteLine(pos=0, angle=90, pen=style.pen(style.MUTED, 1.0, dash=True)))
        p.addItem(pg.InfiniteLine(pos=0, angle=0, pen=style.pen(style.MUTED, 0.6)))
        self.plain = pg.ScatterPlotItem(size=9, symbol="o", brush=pg.mkBrush(JACOBIAN), pen=None)
        self.corrected = pg.ScatterPlotItem(size=9, symbol="s", brush=pg.mkBrush(UPDATE),
                                            pen=None)
        p.addItem(self.plain)
        p.addItem(self.corrected)
        r = self.rotation_plot = self.addPlot(row=0, col=1)
        style.style_plot(r, left="max |Im| / max |Re|", bottom="iteration")
        r.setLogMode(y=True)
        r.getAxis("left").setStyle(maxTextLevel=0)
        r.setToolTip(TIPS["rotation"])
        self.rotation = r.plot(pen=style.pen(TRAJECTORY, 2.0), symbol="o", symbolSize=6,
                               symbolBrush=TRAJECTORY, symbolPen=None)
        self.history: list[tuple[int, float]] = []
        p.setTitle("no spectrum yet: press Spectrum now", size=f"{style.FONT_SIZE}pt",
                   color="#e8e8e8")

    def forget(self) -> None:
        """A new run: the rotation history starts again."""
        self.history = []
        self.rotation.setData([], [])

    def show_spectrum(self, step: int, eigenvalues, consensus=None, title: str = "") -> None:
        """Draw one spectrum (complex arrays) taken at iteration ``step``."""
        values = np.asarray(eigenvalues, dtype=complex)
        self.plain.setData(values.real, values.imag)
        both = values
        if consensus is not None:
            corrected = np.asarray(consensus, dtype=complex)
            self.corrected.setData(corrected.real, corrected.imag)
            both = np.concatenate([values, corrected])
        else:
            self.corrected.setData([], [])
        reach = max(float(np.abs(both).max()) * 1.1, 1e-6) if both.size else 1.0
        self.plane.setRange(xRange=(-reach, reach), yRange=(-reach, reach), padding=0.02)
        legend = f"<span style='color:{JACOBIAN}'>● J</span>"
        if consensus is not None:
            legend += f"  <span style='color:{UPDATE}'>■ J - γ JᵀJ</span>"
        self.plane.setTitle(f"{legend}  {title}", size=f"{style.FONT_SIZE}pt", color="#e8e8e8")
        index = dyn.rotation_index(values)
        if self.history and step < self.history[-1][0]:
            self.history = []  # an earlier step: another run
        if math.isfinite(index) and index > 0:
            self.history = [h for h in self.history if h[0] != step] + [(step, index)]
        if self.history:
            steps, indices = zip(*self.history)
            self.rotation.setData(np.array(steps, float), np.array(indices))
        shown = "∞ (pure rotation)" if math.isinf(index) else _number(index)
        self.rotation_plot.setTitle(f"rotation index {shown}", size=f"{style.FONT_SIZE}pt",
                                    color="#e8e8e8")


def reach(points, start) -> float:
    """Half the side of the square to show: the start, the path (up to 10x the start's
    reach, so that a diverging path does not shrink the picture to nothing), at least 2."""
    near = max(2.0, 1.5 * max(abs(start[0]), abs(start[1])))
    finite = np.asarray(points)[np.isfinite(points).all(axis=1)]
    far = float(np.abs(finite).max()) * 1.08 if len(finite) else 0.0
    return max(near, min(far, 10 * near))


def _arrows_over(vb, game, item, grid: int = GRID) -> None:
    (x0, x1), (y0, y1) = vb.viewRange()
    segments, _ = arrow_segments(game, (x0, x1), (y0, y1), grid)
    item.setData(segments[:, 0], segments[:, 1])


def arrow_segments(game: dyn.Game, x_range, y_range, grid: int = GRID):
    """Arrows of ``game``'s field on a square lattice over a rectangle, ``grid`` along its
    longer side.

    Returns
    -------
    tuple
        (segments (m, 2) float64, pairs of points for ``connect="pairs"``: a shaft and
        two barbs per arrow, its length growing with sqrt(speed); speed (ny, nx)
        |H w| at the lattice points, H the rates).
    """
    (x0, x1), (y0, y1) = x_range, y_range
    gap = max(x1 - x0, y1 - y0) / grid
    xs = np.linspace(x0 + gap / 2, x1 - gap / 2, max(2, round((x1 - x0) / gap)))
    ys = np.linspace(y0 + gap / 2, y1 - gap / 2, max(2, round((y1 - y0) / gap)))
    theta, psi = np.meshgrid(xs, ys)
    w = dyn.field(game, theta, psi) * game.rates  # the time scales stretch the flow
    speed = np.hypot(w[..., 0], w[..., 1])
    unit = w / np.where(speed > 0, speed, 1.0)[..., None]
    top = speed.max()
    scale = np.sqrt(speed / top) if top > 0 else np.zeros_like(speed)
    length = (0.85 * gap * np.clip(scale, 0.2, 1.0))[..., None]
    tail = np.stack([theta, psi], axis=-1) - 0.5 * length * unit
    tip = tail + length * unit
    back = -0.35 * length * unit
    side = 0.2 * length * np.stack([-unit[..., 1], unit[..., 0]], axis=-1)
    segments = np.stack([tail, tip, tip, tip + back + side, tip, tip + back - side], axis=-2)
    return segments[speed > 0].reshape(-1, 2), speed  # no arrow where the field is zero


def verdict(radius: float) -> str:
    """What a spectral radius means for the iterates near the equilibrium."""
    return "converges" if radius < 1 - 1e-9 else "cycles" if radius <= 1 + 1e-9 else "moves away"


def _decade(k: int) -> str:
    """10^k as a tick label: 0.01, 1, 100, or 1e-05 beyond three digits."""
    return f"{10.0 ** k:g}"


def _number(value: float) -> str:
    return "diverged" if not math.isfinite(value) else f"{value:.4g}"
