"""The ``data`` key: a target's name, a typed mixture or a loaded point set (torch-free).

Three forms, the same in the config, presets, sessions, ``--set`` and
:func:`ganviz.core.metrics.measure`:

- a name: ``ring8``, ``bimodal``, ... (:data:`ganviz.core.config.DATA_NAMES`);
- ``mixture:SPEC``, a Gaussian mixture (:mod:`ganviz.core.mixture`);
- ``points:PATH``, the kernel density estimate of a file's points
  (:mod:`ganviz.core.points`; Scott's rule, or ``@kde:H`` a kernel of std H);
  ``points:PATH@gmm`` or ``@gmm:K``, a Gaussian mixture fitted to them by EM
  (components chosen by BIC, or K).

:func:`check_data` is called when a Config is built: it validates the text
(reading a points file once) and returns its canonical form, which the config
keeps.
"""

from __future__ import annotations

from .config import DATA_1D, DATA_NAMES, ConfigError

ACCEPTED = (f"{', '.join(DATA_NAMES)}, mixture:SPEC (e.g. mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3))"
            " or points:PATH[@kde:H|@gmm[:K]] (a CSV or NPY file of 1 or 2 columns)")


def kind(data: str) -> str:
    """``"named"``, ``"mixture"`` or ``"points"``: which form ``data`` is written in."""
    from . import mixture, points

    if data.startswith(mixture.PREFIX):
        return "mixture"
    if data.startswith(points.PREFIX):
        return "points"
    return "named"


def check_data(data) -> str:
    """The canonical form of a ``data`` value; ConfigError naming the problem and the forms accepted.

    Named targets stay as they are; a mixture is written canonically; a
    points file is read (once per path, modification time and size) and
    named by its digest, ``points:PATH#DIGEST``.
    """
    from . import mixture, points

    if not isinstance(data, str):
        raise ConfigError(f"data must be text, got {data!r}; accepted: {ACCEPTED}")
    data = data.strip()
    form = kind(data)
    if form == "mixture":
        return mixture.canonical_mixture(data)
    if form == "points":
        found = points.resolve_points(data)
        if found.fit.startswith("gmm"):
            mixture.fit_point_set(found)  # a fit the view cannot show is refused here
        return found.data
    if data not in DATA_NAMES:
        raise ConfigError(f"unknown data {data!r}; accepted: {ACCEPTED}")
    return data


def data_dim(data: str) -> int:
    """1 or 2: the dimension of the target a (canonical) ``data`` value names."""
    from . import mixture, points

    form = kind(data)
    if form == "mixture":
        return mixture.parse_mixture(data).dim
    if form == "points":
        return points.resolve_points(data).dim
    return 1 if data in DATA_1D else 2


def describe_p_data(data: str) -> dict | None:
    """What p_data is when it is estimated from points; None when it is exact.

    Returns
    -------
    dict or None
        ``estimate`` ("kernel density estimate" or "Gaussian mixture fit"),
        ``n_points``, ``rule`` (the bandwidth rule or how K was chosen),
        ``bandwidth`` (per axis, data units; KDE) or ``components`` (the fit's
        canonical ``mixture:`` text; GMM), and ``text``, one line for a panel.
    """
    from . import mixture, points

    if kind(data) != "points":
        return None
    found = points.resolve_points(data)
    n = len(found.points)
    if found.fit.startswith("kde"):
        h = [float(v) for v in found.bandwidth]
        hs = ", ".join(f"{v:.3g}" for v in h)
        scott = found.fixed_bandwidth is None
        rule = "Scott: h = std n^(-1/(d+4)) per axis" if scott else "given: h on every axis"
        return {"estimate": "kernel density estimate", "n_points": n, "rule": rule,
                "bandwidth": h,
                "text": f"p_data is an estimate: a Gaussian KDE of {n:,} points, "
                        f"{'Scott' if scott else 'given'} bandwidth h = {hs}"}
    fit, _ = mixture.fit_point_set(found)
    k = len(fit.spec.weights)
    rule = ("EM, isotropic components, K by BIC" if fit.chosen else "EM, isotropic components")
    used = "" if fit.n_fitted == n else f" (fitted on {fit.n_fitted:,} of them)"
    return {"estimate": "Gaussian mixture fit", "n_points": n, "n_fitted": fit.n_fitted,
            "rule": rule, "components": fit.spec.text(),
            "text": f"p_data is an estimate: a {k}-component Gaussian mixture fitted to "
                    f"{n:,} points{used}, {rule}"}


def with_p_data(result: dict, data: str) -> dict:
    """A finished run's JSON object with ``p_data`` added when the target is estimated.

    The one place that adds it: headless runs and ``--screenshot`` print the same
    object. ``p_data`` is :func:`describe_p_data` without its ``text``.
    """
    note = describe_p_data(data)
    if note is None:
        return result
    return {**result, "p_data": {k: v for k, v in note.items() if k != "text"}}


#: The most components :func:`describe_target` lists one by one.
LISTED_COMPONENTS = 8


def describe_target(data: str) -> str | None:
    """What a target of your own is, in a sentence or two; None for a named target.

    A drawn or loaded point set: how many points, from where, and how p_data is
    estimated from them (:func:`describe_p_data`). A typed mixture: its
    components, "weight x N(mean; std)" each (up to LISTED_COMPONENTS), exact.
    Plain text; the window's scenario panel shows it in place of a preset's
    explanation once the data are yours.
    """
    from . import mixture, points

    form = kind(data)
    if form == "mixture":
        spec = mixture.parse_mixture(data)
        m = len(spec.weights)

        def one(w, mean, sd):
            where = ", ".join(f"{v:.3g}" for v in mean)
            return f"{w:.2g} x N({where}; {sd:.3g})"

        listed = "; ".join(one(*c) for c in list(zip(spec.weights, spec.means, spec.stds))[:LISTED_COMPONENTS])
        more = f"; and {m - LISTED_COMPONENTS} more" if m > LISTED_COMPONENTS else ""
        return (f"Your typed target: {spec.describe()} (weight x N(mean; std)): {listed}{more}. "
                f"Its density is exact, and each of its {m} component{'s' if m > 1 else ''} "
                f"counts as a mode for mode coverage.")
    if form != "points":
        return None
    found = points.resolve_points(data)
    n = len(found.points)
    origin = {"drawn": "drawn in the window", "inline": "listed in a preset"}.get(
        found.source, f"loaded from {found.source}")
    note = describe_p_data(data)
    return (f"Your target: {n:,} points in {found.dim}-D, {origin}. {note['text']}.")
