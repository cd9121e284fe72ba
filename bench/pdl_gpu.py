"""Exploration for issues 14 and 16: does programmatic dependent launch (PDL, Hopper) shorten a batch-1 decode step?

A batch-1 step of llama-3.1-8b is ~130 small kernels back to back; the weight products of the small matrices (q/k/v,
o, down) reach half the card's bandwidth, in part because each kernel starts only once the one before has drained.
With PDL a kernel is launched while its predecessor still runs and waits (`gdc_wait`) only before it reads what the
predecessor wrote. This times 32 layers of llama-3.1-8b's four one-row weight products (int8 weight-only and bf16, the
package's tiles, no split-K), with a one-program RMS-norm stand-in before each, in one CUDA graph, launched plainly and
with PDL, and checks that both give the same bits. Writes $OUT/pdl-gpu.json. Importing the package's tiles needs the
fastcore and msgspec wheels on the GPU machine (carried in .whl, installed as the device README says).

    python bench/pdl_gpu.py
"""
import json, os, time
from pathlib import Path
import sys
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.quant_kernels import weight_only_tiles, gemv_tiles


def tiles(dtype, n: int, k: int) -> dict:
    "05c's one-row tiles (int8: `weight_only_tiles`, bf16: `gemv_tiles`) without split-K, which this chain leaves out."
    if dtype != torch.int8: return gemv_tiles(k, n)
    return {key: v for key, v in weight_only_tiles(1, n, k).items() if key != 'SPLIT_K'}


@triton.jit
def gemv(X, W, S, Y, N, K, stride_wn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GDC: tl.constexpr,
         PREFETCH: tl.constexpr):
    "One row `X` [1, K] times `W` [N, K] (int8 or bf16) scaled per output row; with GDC, wait for the predecessor first."
    rm, rn, rk = tl.arange(0, BLOCK_M), tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N), tl.arange(0, BLOCK_K)
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    if PREFETCH:   # the first K tile of the weights is read before waiting (weights never depend on the predecessor)
        w0 = tl.load(W + rn[None, :] * stride_wn + rk[:, None], mask=rn[None, :] < N)
    if GDC: tl.extra.cuda.gdc_wait()
    if PREFETCH:
        x0 = tl.load(X + rm[:, None] * K + rk[None, :], mask=rm[:, None] < 1, other=0.0)
        acc += tl.dot(x0, w0.to(x0.dtype))
    for k0 in range(BLOCK_K if PREFETCH else 0, K, BLOCK_K):
        x = tl.load(X + rm[:, None] * K + (k0 + rk)[None, :], mask=rm[:, None] < 1, other=0.0)
        w = tl.load(W + rn[None, :] * stride_wn + (k0 + rk)[:, None], mask=rn[None, :] < N)
        acc += tl.dot(x, w.to(x.dtype))
    if GDC: tl.extra.cuda.gdc_launch_dependents()
    y = acc * tl.load(S + rn, mask=rn < N, other=0.0)[None, :]
    tl.store(Y + rm[:, None] * N + rn[None, :], y.to(Y.dtype.element_ty), mask=(rm[:, None] < 1) & (rn[None, :] < N))


@triton.jit
def norm(X, Y, N, BLOCK: tl.constexpr, GDC: tl.constexpr):
    "RMS-normalize one row of N (one program): the stand-in for the norms and the activation between products."
    i = tl.arange(0, BLOCK)
    if GDC: tl.extra.cuda.gdc_wait()
    x = tl.load(X + i, mask=i < N, other=0.0).to(tl.float32)
    r = tl.rsqrt(tl.sum(x * x, 0) / N + 1e-6)
    if GDC: tl.extra.cuda.gdc_launch_dependents()
    tl.store(Y + i, (x * r).to(Y.dtype.element_ty), mask=i < N)


SHAPES = [('qkv', 6144, 4096), ('o', 4096, 4096), ('gate_up', 28672, 4096), ('down', 4096, 14336)]


def build(dtype, layers=32):
    "Weights (distinct per layer, so nothing stays in L2), scales and activation buffers for `layers` layers."
    g = torch.Generator(device='cuda').manual_seed(0)
    ws = []
    for _ in range(layers):
        lay = {}
        for name, n, k in SHAPES:
            w = (torch.randint(-127, 128, (n, k), device='cuda', dtype=torch.int8, generator=g) if dtype == torch.int8
                 else torch.randn(n, k, device='cuda', dtype=torch.bfloat16, generator=g) * 0.02)
            s = torch.rand(n, device='cuda', generator=g) / 100 if dtype == torch.int8 else torch.ones(n, device='cuda')
            lay[name] = (w, s)
        ws.append(lay)
    return ws


def chain(ws, dtype, pdl: bool, h, bufs, prefetch: bool = False):
    "One step's products: per layer norm → qkv, norm → o, norm → gate_up, norm → down (inputs sliced to the next K)."
    x = h
    for lay in ws:
        for name, n, k in SHAPES:
            t = tiles(dtype, n, k)
            xn = bufs['norm'][:k]
            norm[(1,)](x, xn, k, BLOCK=triton.next_power_of_2(k), GDC=pdl, launch_pdl=pdl)
            w, s = lay[name]
            y = bufs[name]
            gemv[(triton.cdiv(n, t['BLOCK_N']),)](xn, w, s, y, n, k, w.stride(0), GDC=pdl, PREFETCH=prefetch, launch_pdl=pdl, **t)
            x = y[:14336] if name == 'gate_up' else y
    return x


def time_graph(fn, reps=20):
    "Median milliseconds of one replay of `fn` captured in a CUDA graph."
    fn(); torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g): fn()
    g.replay(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return sorted(ts)[reps // 2]


def main():
    out = Path(os.environ.get('OUT', '/tmp')) / 'pdl-gpu.json'
    res = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__, 'date': time.strftime('%Y-%m-%d'), 'runs': {}}
    for dtype in (torch.bfloat16, torch.int8):
        ws = build(dtype)
        gb = sum(w.numel() * w.element_size() for lay in ws for w, _ in lay.values()) / 1e9
        h = torch.randn(4096, device='cuda', dtype=torch.bfloat16)
        bufs = {'norm': torch.empty(14336, device='cuda', dtype=torch.bfloat16), **{n_: torch.empty(n, device='cuda', dtype=torch.bfloat16) for n_, n, _ in SHAPES}}
        outs = {}
        for pdl, pre in ((False, False), (True, False), (True, True)) * 2:
            key = f"{'int8' if dtype == torch.int8 else 'bf16'} {('pdl + prefetch' if pre else 'pdl') if pdl else 'plain'}"
            try:
                ms = time_graph(lambda: chain(ws, dtype, pdl, h, bufs, pre))
                outs[(pdl, pre)] = chain(ws, dtype, pdl, h, bufs, pre).clone()
                res['runs'].setdefault(key, []).append({'ms': ms, 'GB': gb, 'TBps': gb / ms})
                print(key, f'{ms:.3f} ms, {gb / ms:.2f} TB/s', flush=True)
            except Exception as e:
                res['runs'].setdefault(key, []).append({'error': repr(e)[:400]}); print(key, repr(e)[:400], flush=True)
        res[f"{'int8' if dtype == torch.int8 else 'bf16'} same bits"] = all(torch.equal(o, outs[(False, False)]) for o in outs.values())
        ws = None; torch.cuda.empty_cache()
    out.write_text(json.dumps(res, indent=1)); print(json.dumps(res))


if __name__ == '__main__': main()
