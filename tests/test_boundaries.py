"""The two rules of the code's shape, checked in fresh interpreters.

The core and the runner import no Qt (they run headless and in the training
process); the window, controller, worker and views import no torch (the GUI
process stays light and never blocks on a torch import).
"""

import pkgutil
import subprocess
import sys

import pytest


def _modules(package: str) -> list[str]:
    mod = __import__(package, fromlist=["_"])
    return [package] + [m.name for m in pkgutil.walk_packages(mod.__path__, package + ".")]


def _loaded_after_import(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    code = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {watched!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return eval(out.stdout.strip().splitlines()[-1])


def test_core_and_runner_import_no_qt():
    modules = _modules("ganviz.core") + _modules("ganviz.runner")
    assert len(modules) > 15
    assert _loaded_after_import(modules, ("PySide6", "pyqtgraph", "shiboken6")) == []


@pytest.mark.parametrize("package", ["ganviz.app", "ganviz.views", "ganviz.qt"])
def test_window_controller_and_views_import_no_torch(package):
    modules = _modules(package)
    assert _loaded_after_import(modules, ("torch",)) == []


def test_the_gui_process_reads_sessions_presets_and_losses_without_torch():
    modules = ["ganviz.core.session", "ganviz.core.presets", "ganviz.core.losses",
               "ganviz.core.history", "ganviz.core.events", "ganviz.runner.supervisor",
               "ganviz.cli"]
    assert _loaded_after_import(modules, ("torch",)) == []

