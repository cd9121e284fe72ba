"""Kernel timing inside a CUDA graph, shared by the GPU exploration scripts: no launch overhead, the kernels alone."""
import torch


def graph_ms(calls, reps: int = 5) -> float:
    "Milliseconds per call of `calls` (a list of thunks) captured in one CUDA graph, median over `reps` replays."
    for c in calls: c()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for c in calls: c()
    g.replay(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return sorted(ts)[reps // 2] / len(calls)
