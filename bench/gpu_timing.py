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


LLAMA_8B = {'qkv': (6144, 4096), 'o': (4096, 4096), 'gate_up': (28672, 4096), 'down': (4096, 14336), 'head': (128256, 4096)}   # [N, K]


def int8_copies(n: int, k: int, mb: int = 400) -> list:
    "Random int8 `[n, k]` weights, enough copies (two at least) that a graph over all of them reads `mb` MB: none comes from L2."
    return [torch.randint(-127, 128, (n, k), dtype=torch.int8, device='cuda') for _ in range(max(2, -(-mb * 2**20 // (n * k))))]


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    "The largest absolute difference of `got` from `want`, over the largest |want|."
    return ((got.float() - want).abs().max() / want.abs().max()).item()
