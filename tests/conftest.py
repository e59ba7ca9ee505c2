"""Shared test setup: Qt runs offscreen (no display needed), one torch thread."""

import gc
import os

# Before anything imports PySide6: the GUI tests need no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GANVIZ_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


# Cyclic garbage is collected on this (the GUI) thread only, from the start, as the app
# does once a window trains (ganviz.qt.collector): otherwise a test's training thread could
# be the one to destroy an earlier test's Qt objects, which can deadlock the process.
gc.disable()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """After each test (its fixtures and arguments dropped), collect what is due, here."""
    from ganviz.qt.collector import collect_due

    try:
        return (yield)
    finally:
        collect_due()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One torch thread, as the app's training beside the GUI on two cores.

    On a 2-core machine shared with another busy process, torch's thread pool
    made these small ops 20-100x slower.
    """
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _points_store(tmp_path_factory):
    """Loaded targets' points go to a store of the tests' own, not the user's cache folder.

    Set in the environment, so a training process a test spawns finds them too.
    """
    old = os.environ.get("GANVIZ_CACHE")
    os.environ["GANVIZ_CACHE"] = str(tmp_path_factory.mktemp("ganviz-cache"))
    yield
    if old is None:
        os.environ.pop("GANVIZ_CACHE", None)
    else:
        os.environ["GANVIZ_CACHE"] = old


@pytest.fixture(scope="session")
def qapp_args():
    """Arguments for pytest-qt's QApplication."""
    return ["ganviz-tests"]


@pytest.fixture
def pg_style(qapp):
    """pyqtgraph configured as the app configures it."""
    from ganviz.views import style

    style.configure()
    return style


@pytest.fixture
def make_window(qtbot, pg_style):
    """Open a window (thread mode unless asked) and close it after the test."""
    from ganviz.app.main_window import MainWindow
    from ganviz.core.config import Config

    small = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64})
    opened = []

    def make(config=small, preset=None, mode="thread", **kw):
        window = MainWindow(config, preset, mode=mode, **kw)
        qtbot.addWidget(window)
        window.show()
        window.start()
        opened.append(window)
        return window

    yield make
    for window in opened:
        window.close()
        assert window.controller.worker is None
