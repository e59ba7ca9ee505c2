"""The metric history (a core model) and the one metrics CSV writer."""

import csv
import io

import numpy as np

from ganviz.core.history import CSV_COLUMNS, History, MetricsCsv


def _history():
    h = History()
    steps = np.arange(1, 11)
    h.steps.append(steps, {"loss_d": steps * 0.5, "loss_g": steps * 0.25,
                           "grad_norm_g": np.ones(10), "grad_norm_d": np.ones(10),
                           "d_real": np.full(10, 0.75), "d_fake": np.full(10, 0.25)})
    h.measured.append([5, 10], {"js": [0.5, 0.125], "w1": [1.0, 0.5], "kl": [0.25, 0.0],
                                "modes_captured": [1, 2], "modes_total": [2, 2],
                                "high_quality": [0.5, 0.875], "value": [-1.0, -1.25],
                                "value_opt": [-0.5, -1.3]})
    return h


def _table(text):
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_measured_columns_are_filled_only_where_measured():
    out = io.StringIO()
    assert MetricsCsv(out).write(*_history().columns()) == 10
    table = _table(out.getvalue())
    assert [r["step"] for r in table] == [str(s) for s in range(1, 11)]
    assert float(table[3]["loss_d"]) == 2.0 and float(table[3]["d_fake"]) == 0.25
    assert table[3]["js"] == "" and table[3]["modes_captured"] == ""
    assert float(table[4]["js"]) == 0.5 and float(table[9]["js"]) == 0.125
    assert float(table[9]["modes_captured"]) == 2 and float(table[9]["high_quality"]) == 0.875
    assert float(table[4]["kl"]) == 0.25 and float(table[9]["value_opt"]) == -1.3
    assert [r["js"] != "" for r in table].count(True) == 2


def test_chunks_write_the_same_file_and_a_step_only_once():
    steps, measured = _history().columns()
    whole, chunked = io.StringIO(), io.StringIO()
    MetricsCsv(whole).write(steps, measured)
    writer = MetricsCsv(chunked)
    for lo, hi in ((0, 5), (5, 10)):
        part = {k: v[lo:hi] for k, v in steps.items()}
        at = (measured["step"] > lo) & (measured["step"] <= hi)
        writer.write(part, {k: v[at] for k, v in measured.items()})
    # A snapshot of the last step again (a run's final one) adds no row.
    assert writer.write({"step": np.array([10])}, {k: v[-1:] for k, v in measured.items()}) == 0
    assert chunked.getvalue() == whole.getvalue()


def test_a_diverged_per_step_value_stays_nan_and_float32_text_reads_back_exactly():
    out = io.StringIO()
    value = np.float32(0.1) * np.float32(3)
    MetricsCsv(out).write({"step": np.array([1, 2]), "loss_d": np.array([value, np.nan])})
    table = _table(out.getvalue())
    assert np.float32(table[0]["loss_d"]) == value
    assert table[1]["loss_d"] == "nan" and table[1]["js"] == ""


def test_mode_counts_are_kept_per_measurement_and_thinned_keeping_the_latest(monkeypatch):
    from types import SimpleNamespace

    from ganviz.core import history

    monkeypatch.setattr(history, "MODE_ROWS", 4)
    h = History()
    for step in range(1, 7):
        h.add(SimpleNamespace(run_id=0, history={}, fields_step=step, mode_counts=np.array([step, 0]),
                              metrics={"js": 0.1}))
        h.add(SimpleNamespace(run_id=0, history={}, fields_step=step, mode_counts=np.array([99, 99]),
                              metrics={"js": 0.1}))  # the same measurement again: not a new row
    assert len(h.modes) <= 4 and h.modes[-1][0] == 6.0
    assert all(c[0] == s for s, c in h.modes)
    _, measured = h.columns()
    assert set(measured) >= {"mode_count_0", "mode_count_1"}
    kept = np.isfinite(measured["mode_count_0"])
    assert list(measured["step"][kept]) == [s for s, _ in h.modes]
