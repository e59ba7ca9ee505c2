"""The lifecycle of a run, without Qt: a supervisor, the host that trains, and how they talk.

:class:`~ganviz.runner.supervisor.Supervisor` (in the process that drives
the run) is the only place a run starts, restarts or stops;
:class:`~ganviz.runner.host.Host` (where training happens) obeys its
:mod:`~ganviz.runner.commands` and answers with
:mod:`ganviz.core.events`; :mod:`~ganviz.runner.transport` carries both over
a thread or a child process. :func:`~ganviz.runner.fixed.run_fixed` is a run
of a fixed length in this process: the command line's headless runs.
"""
