"""A sweep's numbers per cell (mean and standard error over seeds) and its phase diagram (PNG).

The picture is drawn with Pillow (a dependency already): a heatmap over the
first two axes when both are listed values (a grid or a choice), each cell
holding the mean, its standard error and how many seeds diverged; a scatter
coloured by the mean when an axis is drawn at random; a line with error bars
for a single axis. Further axes are averaged over, and the title says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .spec import LOG_KEYS, Sweep, value_text

#: Metrics where more is better; for the others (js, w1, losses, ...) less is.
HIGHER_IS_BETTER = frozenset({"modes_captured", "high_quality", "d_real"})
#: What each key is, for the axes' titles.
KEY_LABELS = {
    "lr": "lr, both learning rates", "lr_d": "lr_d, D's learning rate",
    "lr_g": "lr_g, G's learning rate", "k": "k, D steps per G step",
    "batch_size": "batch_size, samples per step", "hidden": "hidden, units per layer",
    "layers": "layers, hidden layers", "z_dim": "z_dim, noise dimensions",
    "clip": "clip, WGAN weight bound", "gp_weight": "gp_weight, WGAN-GP lambda",
}
#: viridis at nine evenly spaced points (matplotlib's table), interpolated between.
VIRIDIS = np.array([
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], dtype=float)


@dataclass(frozen=True)
class Cell:
    """The runs of one point of the first two axes: the metric's mean and s.e. over them."""

    point: tuple  # ((key, value), ...) of the first one or two axes
    mean: float  # NaN when every run diverged
    se: float  # NaN with fewer than two finished runs
    runs: int
    diverged: int
    #: Each run of the cell: (row, the metric's value (NaN: diverged or undefined), diverged).
    seeds: tuple = ()


def cells(sweep: Sweep, done: dict, metric: str) -> list[Cell]:
    """Group the finished rows by the first two axes' values (sweep order); mean and s.e.

    ``done`` maps a row's key (results.csv texts) to its fields, as
    :class:`~ganviz.sweep.results.Results` holds them. A diverged run counts
    in ``diverged`` and not in the mean.
    """
    shown = min(2, len(sweep.keys))
    groups: dict[tuple, list] = {}
    for row in sweep.rows:
        fields = done.get(row.key())
        if fields is None:
            continue
        values = groups.setdefault(row.point[:shown], [[], 0, 0, []])
        values[1] += 1
        if fields["diverged"] == "true":
            values[2] += 1
            values[3].append((row, math.nan, True))
            continue
        x = float(fields[metric] or "nan")
        values[3].append((row, x, False))
        if math.isfinite(x):
            values[0].append(x)
    out = []
    for point, (xs, runs, div, seeds) in groups.items():
        mean = float(np.mean(xs)) if xs else math.nan
        se = float(np.std(xs, ddof=1) / math.sqrt(len(xs))) if len(xs) > 1 else math.nan
        out.append(Cell(point, mean, se, runs, div, tuple(seeds)))
    return out


def best_and_worst(found: list[Cell], metric: str) -> tuple[Cell | None, Cell | None]:
    ok = [c for c in found if math.isfinite(c.mean)]
    if not ok:
        return None, None
    sign = -1 if metric in HIGHER_IS_BETTER else 1
    ok.sort(key=lambda c: sign * c.mean)
    return ok[0], ok[-1]


def describe(cell: Cell) -> str:
    where = ", ".join(f"{k}={value_text(v)}" for k, v in cell.point)
    spread = f" ± {cell.se:.3g}" if math.isfinite(cell.se) else ""
    div = f", {cell.diverged} diverged" if cell.diverged else ""
    return f"{cell.mean:.4g}{spread} at {where} ({cell.runs} runs{div})"


def _color(t: float) -> tuple[int, int, int]:
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    c = VIRIDIS[i] + (t - i) * (VIRIDIS[i + 1] - VIRIDIS[i])
    return tuple(int(round(x)) for x in c)


def _font(size: int):
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


class _Scale:
    """Data -> pixels along one axis: linear, or log for rates."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float, log: bool) -> None:
        self.log = log and lo > 0
        f = math.log10 if self.log else float
        self.a, self.b = f(lo), f(hi)
        if self.a == self.b:
            self.a, self.b = self.a - 1, self.b + 1
        pad = 0.06 * (self.b - self.a)
        self.a, self.b, self.p0, self.p1, self.f = self.a - pad, self.b + pad, p0, p1, f

    def __call__(self, v: float) -> float:
        return self.p0 + (self.f(v) - self.a) / (self.b - self.a) * (self.p1 - self.p0)

    def ticks(self) -> list[float]:
        """Round values inside the axis: decades (and 2, 5 times them over few decades), or
        1, 2, 5 times a power of ten apart."""
        if self.log:
            lo, hi = math.floor(self.a), math.ceil(self.b)
            mults = (1, 2, 5) if self.b - self.a < 2.5 else (1,)
            found = [m * 10.0 ** e for e in range(lo, hi + 1) for m in mults]
            return [t for t in found if self.a <= math.log10(t) <= self.b]
        raw = (self.b - self.a) / 5
        power = 10.0 ** math.floor(math.log10(raw))
        step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=raw)
        first = math.ceil(self.a / step) * step
        return [float(t) for t in np.arange(first, self.b, step)]


def draw_phase(path: Path, sweep: Sweep, done: dict, metric: str, title: str = "") -> None:
    """Write the phase diagram of ``metric`` over the sweep's first two axes as a PNG."""
    from PIL import Image, ImageDraw

    W, H = 980, 760
    left, right, top, bottom = 120, 150, 78, 96
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    f_title, f_axis, f_tick, f_cell = _font(18), _font(16), _font(13), _font(15)
    found = cells(sweep, done, metric)
    axes = sweep.axes[:2]
    better = "higher" if metric in HIGHER_IS_BETTER else "lower"
    rest = sweep.axes[2:]
    over = f"mean over {sweep.seeds} seed{'s' * (sweep.seeds > 1)}"
    if rest:
        over += " and " + ", ".join(a.key for a in rest)
    d.text((left, 14), title or f"{metric}: {over}", fill="black", font=f_title)
    d.text((left, 42), f"{metric} ({better} is better); {over}; ± standard error over seeds",
           fill=(80, 80, 80), font=f_tick)
    x0, y0, x1, y1 = left, top, W - right, H - bottom
    finite = [c.mean for c in found if math.isfinite(c.mean)]
    vmin, vmax = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = (vmax - vmin) or 1.0
    norm = lambda v: (v - vmin) / span  # noqa: E731

    def axis_title(axis, scaled: bool) -> str:
        text = KEY_LABELS.get(axis.key, axis.key)
        if scaled and (axis.key in LOG_KEYS or axis.kind == "loguniform"):
            text += " (log scale)"
        return text

    if len(axes) == 2 and all(a.categorical for a in axes):
        xs, ys = list(axes[0].values), list(axes[1].values)
        xs_sorted = sorted(xs, key=_order) if axes[0].kind == "grid" else xs
        ys_sorted = sorted(ys, key=_order) if axes[1].kind == "grid" else ys
        cw, ch = (x1 - x0) / len(xs_sorted), (y1 - y0) / len(ys_sorted)
        for c in found:
            i = xs_sorted.index(c.point[0][1])
            j = ys_sorted.index(c.point[1][1])
            box = (x0 + i * cw, y1 - (j + 1) * ch, x0 + (i + 1) * cw, y1 - j * ch)
            fill = _color(norm(c.mean)) if math.isfinite(c.mean) else (190, 190, 190)
            d.rectangle(box, fill=fill, outline="white", width=2)
            lines = [f"{c.mean:.4g}" if math.isfinite(c.mean) else "diverged"]
            if math.isfinite(c.se):
                lines.append(f"± {c.se:.2g}")
            if c.diverged:
                lines.append(f"{c.diverged}/{c.runs} diverged")
            lum = 0.3 * fill[0] + 0.59 * fill[1] + 0.11 * fill[2]
            d.multiline_text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), "\n".join(lines),
                             fill="black" if lum > 140 else "white", font=f_cell, anchor="mm",
                             align="center")
        for i, v in enumerate(xs_sorted):
            d.text((x0 + (i + 0.5) * cw, y1 + 8), _num(v), fill="black", font=f_tick, anchor="mt")
        for j, v in enumerate(ys_sorted):
            d.text((x0 - 8, y1 - (j + 0.5) * ch), _num(v), fill="black", font=f_tick, anchor="rm")
        _colorbar(d, W - right + 30, y0, y1, vmin, vmax, metric, f_tick)
        d.text(((x0 + x1) / 2, H - 40), axis_title(axes[0], False), fill="black", font=f_axis,
               anchor="mt")
        _vertical(img, axis_title(axes[1], False), 28, (y0 + y1) / 2, f_axis)
    elif len(axes) == 2:
        sx = _scale(axes[0], [c.point[0][1] for c in found], x0, x1)
        sy = _scale(axes[1], [c.point[1][1] for c in found], y1, y0)
        _frame(d, sx, sy, x0, y0, x1, y1, f_tick, axes)
        for c in found:
            px, py = _at(sx, axes[0], c.point[0][1]), _at(sy, axes[1], c.point[1][1])
            if math.isfinite(c.mean):
                d.ellipse((px - 8, py - 8, px + 8, py + 8), fill=_color(norm(c.mean)),
                          outline="black")
                note = f"± {c.se:.2g}" if math.isfinite(c.se) else ""
                if c.diverged:
                    note += f" {c.diverged}/{c.runs} div"
                d.text((px + 11, py), note.strip(), fill=(60, 60, 60), font=f_tick, anchor="lm")
            else:
                d.line((px - 6, py - 6, px + 6, py + 6), fill=(200, 0, 0), width=3)
                d.line((px - 6, py + 6, px + 6, py - 6), fill=(200, 0, 0), width=3)
        _colorbar(d, W - right + 30, y0, y1, vmin, vmax, metric, f_tick)
        d.text(((x0 + x1) / 2, H - 40), axis_title(axes[0], True), fill="black", font=f_axis,
               anchor="mt")
        _vertical(img, axis_title(axes[1], True), 28, (y0 + y1) / 2, f_axis)
    else:
        axis = axes[0]
        xs = [c.point[0][1] for c in found]
        lows = [c.mean - (c.se if math.isfinite(c.se) else 0) for c in found
                if math.isfinite(c.mean)]
        highs = [c.mean + (c.se if math.isfinite(c.se) else 0) for c in found
                 if math.isfinite(c.mean)]
        sx = _scale(axis, xs, x0, x1 + right - 40)
        sy = _Scale(min(lows, default=0.0), max(highs, default=1.0), y1, y0, False)
        _frame(d, sx, sy, x0, y0, x1 + right - 40, y1, f_tick, (axis, None))
        ordered = sorted((c for c in found), key=lambda c: _order(c.point[0][1]))
        pts = [(_at(sx, axis, c.point[0][1]), sy(c.mean)) for c in ordered
               if math.isfinite(c.mean)]
        if len(pts) > 1:
            d.line(pts, fill=(33, 113, 181), width=2)
        for c in ordered:
            px = _at(sx, axis, c.point[0][1])
            if not math.isfinite(c.mean):
                d.text((px, y0 + 6), "diverged", fill=(200, 0, 0), font=f_tick, anchor="mt")
                continue
            py = sy(c.mean)
            if math.isfinite(c.se):
                d.line((px, sy(c.mean - c.se), px, sy(c.mean + c.se)), fill="black", width=2)
                for e in (c.mean - c.se, c.mean + c.se):
                    d.line((px - 6, sy(e), px + 6, sy(e)), fill="black", width=2)
            d.ellipse((px - 5, py - 5, px + 5, py + 5), fill=(33, 113, 181), outline="black")
            if c.diverged:
                d.text((px + 8, py), f"{c.diverged}/{c.runs} div", fill=(200, 0, 0),
                       font=f_tick, anchor="lm")
        d.text(((x0 + x1) / 2, H - 40), axis_title(axis, True), fill="black", font=f_axis,
               anchor="mt")
        _vertical(img, f"{metric} (mean ± s.e.)", 28, (y0 + y1) / 2, f_axis)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG")
    tmp.replace(path)  # a reader never sees half a picture


def _order(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def _scale(axis, values, p0, p1) -> _Scale:
    if axis.categorical and not all(isinstance(v, (int, float)) for v in axis.values):
        return _Scale(0, len(axis.values) - 1, p0, p1, False)
    nums = [float(v) for v in values] or [0.0, 1.0]
    log = axis.key in LOG_KEYS or axis.kind == "loguniform"
    return _Scale(min(nums), max(nums), p0, p1, log)


def _at(scale: _Scale, axis, v) -> float:
    if isinstance(v, str):
        return scale(axis.values.index(v))
    return scale(v)


def _frame(d, sx, sy, x0, y0, x1, y1, font, axes) -> None:
    d.rectangle((x0, y0, x1, y1), outline="black")
    for axis, scale, horizontal in ((axes[0], sx, True), (axes[1], sy, False)):
        if axis is not None and axis.categorical and isinstance(axis.values[0], str):
            ticks = [(scale(i), v) for i, v in enumerate(axis.values)]
        else:
            ticks = [(scale(t), f"{t:.3g}") for t in scale.ticks()]
        for p, label in ticks:
            if horizontal:
                d.line((p, y1, p, y1 + 5), fill="black")
                d.text((p, y1 + 8), label, fill="black", font=font, anchor="mt")
            else:
                d.line((x0 - 5, p, x0, p), fill="black")
                d.text((x0 - 8, p), label, fill="black", font=font, anchor="rm")


def _colorbar(d, x, y0, y1, vmin, vmax, metric, font) -> None:
    n = int(y1 - y0)
    for i in range(n):
        d.line((x, y1 - i, x + 22, y1 - i), fill=_color(i / max(n - 1, 1)))
    d.rectangle((x, y0, x + 22, y1), outline="black")
    for v, y in ((vmax, y0), ((vmin + vmax) / 2, (y0 + y1) / 2), (vmin, y1)):
        d.text((x + 28, y), f"{v:.4g}", fill="black", font=font, anchor="lm")
    d.text((x + 11, y0 - 8), metric, fill="black", font=font, anchor="ms")


def _vertical(img, text: str, x: float, y: float, font) -> None:
    """Text turned 90 degrees, centred on (x, y)."""
    from PIL import Image, ImageDraw

    box = ImageDraw.Draw(img).textbbox((0, 0), text, font=font)
    w, h = box[2] - box[0] + 4, box[3] - box[1] + 6
    label = Image.new("RGB", (w, h), "white")
    ImageDraw.Draw(label).text((2 - box[0], 3 - box[1]), text, fill="black", font=font)
    label = label.rotate(90, expand=True)
    img.paste(label, (int(x - label.width / 2), int(y - label.height / 2)))
