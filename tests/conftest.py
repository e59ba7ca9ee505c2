"""Shared test setup: Qt runs offscreen (no display needed), one torch thread."""

import os

# Before anything imports PySide6: the GUI tests need no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GANVIZ_THREADS", "1")

import pytest  # noqa: E402


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
