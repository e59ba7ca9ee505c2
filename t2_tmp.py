import time
from ganviz.core.presets import load_preset
from ganviz.core.events import Finished
from ganviz.runner.supervisor import Supervisor
p = load_preset("compare-seeds-ring8")
key, configs = p.variants()
sup = Supervisor(p.config, "thread", max_steps=200)
sup.compare(key, [getattr(c, key) for c in configs])
t0 = time.time()
fin=set()
try:
    for ev in sup.events(lambda e: isinstance(e, Finished) and (fin.add(e.member) or len(fin) == len(configs)), timeout=60):
        s = getattr(ev, "snapshot", None)
        print(f"{time.time()-t0:6.2f}", type(ev).__name__, ev.member, s.step if s else None, getattr(ev, "text", ""), flush=True)
finally:
    sup.stop()
