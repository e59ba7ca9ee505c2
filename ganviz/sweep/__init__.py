"""Sweeps: many headless runs over a grid or random axes, their table and phase diagram.

``python -m ganviz.sweep --preset ring8 --grid lr_d=1e-4,1e-3 --grid lr_g=1e-4,1e-3 --seeds 3
--out runs/`` writes ``runs/results.csv`` (a row per config and seed, each the single headless
run of that config, bit for bit), ``runs/phase.png`` and ``runs/command.txt``. Rows of one
architecture train as batches of the batched engine, a process per core (:mod:`.local`), or
through Ray Tune (:mod:`.ray_backend`). Nothing in ganviz.core or ganviz.runner imports this
package; the window reads a sweep's folder through :func:`.results.open_folder`.
"""
