import numpy as np, torch, time
from ganviz.core import metrics as M
from ganviz.core.data import make_target
for name in ("gaussian","bimodal","ring8","grid25","spiral","gaussian2d"):
    t=make_target(name); Y=M.Yardstick(t)
    x=t.sample(10000,torch.Generator().manual_seed(1),"cpu")
    Y.measure(x); ts=[]
    for _ in range(3):
        t0=time.perf_counter(); r=Y.measure(x); ts.append(time.perf_counter()-t0)
    print(name, f"{np.median(ts)*1e3:.0f} ms js {r['js']:.4f} kl {r['kl']} w1 {r['w1']:.3f} w1s {r['w1_sliced']:.3f}")
