"""How a density is made of loaded points: @gmm (EM against known mixtures), @kde:H, drawn curves."""

import json
import math

import numpy as np
import pytest

from ganviz.cli import main
from ganviz.core import mixture, points
from ganviz.core.config import Config, ConfigError
from ganviz.core.data import make_target
from ganviz.core.datakey import describe_p_data

W = np.array([0.5, 0.3, 0.2])
MU2 = np.array([[-2.0, 0.0], [0.0, 3.0], [2.0, 1.0]])  # sorted by x, as the fit sorts them
S = np.array([0.3, 0.2, 0.5])


def sample(n, means, seed=1):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(W), n, p=W)
    return means[idx] + S[idx, None] * rng.normal(size=(n, means.shape[1]))


@pytest.mark.parametrize("dim", [1, 2])
def test_em_recovers_a_known_mixture(dim):
    means = MU2[:, :dim] if dim == 2 else np.array([[-2.0], [0.0], [2.0]])
    fit = mixture.fit_mixture(sample(4000, means), 3)
    spec = fit.spec
    # Standard errors at n = 4000: weights ~0.008, means ~0.01, stds ~3 %.
    assert np.abs(spec.weights - W).max() < 0.03
    assert np.abs(spec.means - means).max() < 0.05
    assert np.abs(spec.stds / S - 1).max() < 0.1
    assert not fit.chosen and fit.n_fitted == 4000


def test_bic_chooses_the_number_of_components_and_the_fit_is_deterministic():
    x = sample(1500, MU2)
    fit = mixture.fit_mixture(x)
    assert fit.chosen and len(fit.spec.weights) == 3
    again = mixture.fit_mixture(x)
    assert again.spec.text() == fit.spec.text()  # fixed seed: the same fit, bit for bit
    one = mixture.fit_mixture(np.random.default_rng(0).normal(size=(1500, 2)))
    assert len(one.spec.weights) == 1


def test_points_target_with_a_fit_has_modes_and_says_it_is_an_estimate(tmp_path):
    path = tmp_path / "three.csv"
    x = sample(2000, MU2)
    path.write_text("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in x))
    c = Config(data=f"points:{path}@gmm:3")
    assert c.data.endswith("@gmm:3") and "#" in c.data
    t = make_target(c.data)
    assert t.estimated and t.n_points == 2000 and t.is_mixture and len(t.centres) == 3
    assert np.abs(t.centres - MU2).max() < 0.05
    # The density is the fit's: the typed mixture of the same components, exactly.
    spec = mixture.fit_mixture(x, 3).spec
    typed = make_target(spec.text())
    grid = np.linspace(-3, 3, 7)
    pts = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    assert np.allclose(t.density(pts), typed.density(pts), rtol=1e-12)
    note = describe_p_data(c.data)
    assert note["estimate"] == "Gaussian mixture fit" and note["n_points"] == 2000
    assert note["components"] == spec.text()
    kde = describe_p_data(f"points:{path}")
    assert kde["estimate"] == "kernel density estimate" and kde["rule"].startswith("Scott")
    assert np.allclose(kde["bandwidth"], x.std(0, ddof=1) * 2000 ** (-1 / 6))
    assert describe_p_data("ring8") is None and describe_p_data(spec.text()) is None


@pytest.mark.parametrize("suffix, words", [("@gmm:0", "K 1 to 100"), ("@gmm:x", "unknown fit"),
                                           ("@em", "accepted: @kde"), ("@gmm:500", "1 to 100")])
def test_bad_fit_is_one_line(tmp_path, suffix, words):
    path = tmp_path / "p.csv"
    path.write_text("".join(f"{float(v)!r}\n" for v in np.random.default_rng(0).normal(size=50)))
    with pytest.raises(ConfigError, match=words) as err:
        Config(data=f"points:{path}{suffix}")
    assert "\n" not in str(err.value)


def test_headless_json_says_p_data_is_an_estimate(tmp_path, capsys):
    path = tmp_path / "p.csv"
    x = sample(600, MU2)
    path.write_text("".join(f"{float(a)!r} {float(b)!r}\n" for a, b in x))
    small = ["--steps", "20", "--every", "20", "--set", "hidden=16", "--set", "batch_size=64"]
    assert main(["--headless", "--set", f"data=points:{path}", *small]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["p_data"]["estimate"] == "kernel density estimate"
    assert out["p_data"]["n_points"] == 600 and len(out["p_data"]["bandwidth"]) == 2
    assert main(["--headless", "--set", f"data=points:{path}@gmm:3", *small]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["p_data"]["estimate"] == "Gaussian mixture fit" and out["modes_total"] == 3
    assert math.isfinite(out["js"])
    assert main(["--headless", "--preset", "ring8", *small]) == 0
    assert "p_data" not in json.loads(capsys.readouterr().out)


def test_each_run_of_a_headless_comparison_says_p_data_is_an_estimate(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("".join(f"{float(a)!r} {float(b)!r}\n" for a, b in sample(300, MU2)))
    small = ["--steps", "10", "--every", "10", "--set", "hidden=16", "--set", "batch_size=64"]
    assert main(["--headless", "--set", f"data=points:{path}", *small]) == 0
    single = json.loads(capsys.readouterr().out)["p_data"]
    assert main(["--headless", "--set", f"data=points:{path}", "--compare", "k=1,2", *small]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["p_data"] for r in runs] == [single, single]
    assert single["n_points"] == 300


def test_a_given_kernel_width_is_that_density_exactly(tmp_path):
    path = tmp_path / "p.csv"
    x = np.random.default_rng(2).normal(size=(50, 2))
    path.write_text("".join(f"{float(a)!r},{float(b)!r}\n" for a, b in x))
    c = Config(data=f"points:{path}@kde:0.250")
    assert c.data.endswith("@kde:0.25")
    t = make_target(c.data)
    q = np.array([[0.1, -0.2], [1.0, 1.0]])
    sq = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    truth = np.exp(-0.5 * sq / 0.25**2).mean(1) / (2 * math.pi * 0.25**2)
    np.testing.assert_allclose(t.density(q), truth, rtol=1e-12)
    assert describe_p_data(c.data)["bandwidth"] == [0.25, 0.25]
    for bad, words in [("@kde:0", "must be a number > 0"), ("@kde:-1", "must be a number > 0"),
                       ("@kde:1e-5", "cannot resolve it")]:
        with pytest.raises(ConfigError, match=words):
            Config(data=f"points:{path}{bad}")


def test_points_from_a_drawn_histogram_follow_its_mass():
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    pts = points.points_from_histogram(edges, [1.0, 0.0, 3.0], n=8)
    # A quarter of the mass in [0, 1), none in [1, 2), three quarters in [2, 3), evenly.
    np.testing.assert_allclose(pts[:, 0], [0.25, 0.75, *(2 + (np.arange(6) + 0.5) / 6)])
    with pytest.raises(ConfigError, match="zero everywhere"):
        points.points_from_histogram(edges, [0, 0, 0])


@pytest.mark.parametrize("fit", ["@kde:0.3", "@gmm:2"])
def test_a_preset_keeps_the_points_and_how_their_density_is_made(tmp_path, fit):
    from ganviz.core.presets import preset_doc, read_preset

    x = sample(300, MU2)
    path = tmp_path / "p.npy"
    np.save(path, x)
    c = Config(data=f"points:{path}{fit}")
    doc = preset_doc(c, steps=100, title="Mine")
    assert doc["config"]["data"] == f"points:inline{fit}"
    (tmp_path / "mine.json").write_text(json.dumps(doc))
    data = read_preset(tmp_path / "mine.json").config.data
    assert data == f"points:inline#{points.digest_of(x)}{fit}"
    np.testing.assert_array_equal(points.resolve_points(data).points, x)
