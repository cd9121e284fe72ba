"""Which int8 weight-only product is fastest at decode's row counts on this GPU (issue 16): three Triton variants,
each timed inside a CUDA graph (no launch overhead) over enough weight copies to defeat the L2 cache, beside bf16
cuBLAS on the same shapes. Writes $OUT/int8_variants.json. Exploration for 05c_quant_kernels; not imported anywhere.
"""
import json, os, sys, time
from pathlib import Path
import torch, triton, triton.language as tl
from gpu_timing import graph_ms


@triton.jit
def dot_kn(X, W, S, Y, M, N, K, sxm, swn, sym, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    "tl.dot, weights loaded as [BK, BN] (the package's first kernel)."
    pn, pm = tl.program_id(0), tl.program_id(1)
    rm, rn, rk = pm * BM + tl.arange(0, BM), pn * BN + tl.arange(0, BN), tl.arange(0, BK)
    acc = tl.zeros([BM, BN], tl.float32)
    for k0 in range(0, K, BK):
        x = tl.load(X + rm[:, None] * sxm + (k0 + rk)[None, :], mask=(rm < M)[:, None], other=0.0)
        w = tl.load(W + rn[None, :] * swn + (k0 + rk)[:, None])
        acc += tl.dot(x, w.to(x.dtype))
    tl.store(Y + rm[:, None] * sym + rn[None, :], (acc * tl.load(S + rn)[None, :]).to(Y.dtype.element_ty), mask=(rm < M)[:, None])


@triton.jit
def dot_nk(X, W, S, Y, M, N, K, sxm, swn, sym, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    "tl.dot, weights loaded as [BN, BK] (contiguous along K) and transposed in registers."
    pn, pm = tl.program_id(0), tl.program_id(1)
    rm, rn, rk = pm * BM + tl.arange(0, BM), pn * BN + tl.arange(0, BN), tl.arange(0, BK)
    acc = tl.zeros([BM, BN], tl.float32)
    for k0 in range(0, K, BK):
        x = tl.load(X + rm[:, None] * sxm + (k0 + rk)[None, :], mask=(rm < M)[:, None], other=0.0)
        w = tl.load(W + rn[:, None] * swn + (k0 + rk)[None, :])
        acc += tl.dot(x, tl.trans(w.to(x.dtype)))
    tl.store(Y + rm[:, None] * sym + rn[None, :], (acc * tl.load(S + rn)[None, :]).to(Y.dtype.element_ty), mask=(rm < M)[:, None])


@triton.jit
def gemv(X, W, S, Y, M, N, K, sxm, swn, sym, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    "No tensor cores: each program multiplies BN weight rows by the BM (<= 4) activation rows on CUDA cores."
    pn = tl.program_id(0)
    rn, rk = pn * BN + tl.arange(0, BN), tl.arange(0, BK)
    for m in tl.static_range(BM):
        acc = tl.zeros([BN, BK], tl.float32)
        for k0 in range(0, K, BK):
            w = tl.load(W + rn[:, None] * swn + (k0 + rk)[None, :]).to(tl.float32)
            x = tl.load(X + m * sxm + k0 + rk).to(tl.float32)
            acc += w * x[None, :]
        tl.store(Y + m * sym + rn, (tl.sum(acc, 1) * tl.load(S + rn)).to(Y.dtype.element_ty))


SHAPES = {'qkv': (6144, 4096), 'o': (4096, 4096), 'gate_up': (28672, 4096), 'down': (4096, 14336), 'head': (128256, 4096)}
R = {'gpu': torch.cuda.get_device_name(0), 'date': time.strftime('%Y-%m-%d'), 'results': {}}
for name, (n, k) in SHAPES.items():
    copies = max(2, -(-400 * 2**20 // (n * k)))          # > 400 MB of int8 weights per graph: out of L2
    ws = [torch.randint(-127, 128, (n, k), dtype=torch.int8, device='cuda') for _ in range(copies)]
    s = torch.rand(n, device='cuda')
    bcopies = max(2, -(-400 * 2**20 // (2 * n * k)))
    wb = [torch.randn(n, k, device='cuda', dtype=torch.bfloat16) for _ in range(bcopies)]
    for m in (1, 4, 16, 64):
        x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
        y = torch.empty(m, n, device='cuda', dtype=torch.bfloat16)
        row = {'bf16': graph_ms([lambda w=w: x @ w.t() for w in wb])}
        cands = []
        for kern in (dot_kn, dot_nk):
            for bn in (32, 64, 128):
                for bk in (128, 256):
                    for wp, st in ((4, 4), (8, 4)):
                        cands.append((kern.__name__, kern, dict(BM=max(16, triton.next_power_of_2(m)), BN=bn, BK=bk), wp, st))
        if m <= 4:
            for bn in (4, 8, 16):
                for bk in (256, 512, 1024):
                    for wp in (4, 8):
                        cands.append(('gemv', gemv, dict(BM=m, BN=bn, BK=bk), wp, 2))
        best = {}
        for kname, kern, c, wp, st in cands:
            if c['BN'] * c['BK'] > 65536 or (kname != 'gemv' and c['BM'] * c['BK'] > 32768): continue
            try:
                t = graph_ms([lambda w=w, kern=kern, c=c, wp=wp, st=st: kern[(n // c['BN'], triton.cdiv(m, c['BM']) if kern is not gemv else 1)](
                    x, w, s, y, m, n, k, x.stride(0), w.stride(0), y.stride(0), **c, num_warps=wp, num_stages=st) for w in ws], 3)
            except Exception as e: continue
            if kname not in best or t < best[kname][0]: best[kname] = (t, dict(c, num_warps=wp, num_stages=st))
        row.update({kn: {'ms': t, 'TBps': n * k / t / 1e9, 'config': c} for kn, (t, c) in best.items()})
        row['bf16_TBps'] = 2 * n * k / row['bf16'] / 1e9
        R['results'][f'{name} m={m}'] = row
        print(f'{name} m={m}', json.dumps(row), flush=True)
    del ws, wb; torch.cuda.empty_cache()
out = os.environ.get('OUT')
if out: Path(out, 'int8_variants.json').write_text(json.dumps(R, indent=1))
