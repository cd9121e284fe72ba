"""Issue 16: is the one-row int8 product bound by its chain of tensor-core instructions rather than by HBM?

At one row, o's product (4096 -> 4096) takes 8.0 µs with its weights already in L2 and 9.0 µs from HBM: the bytes are
not the limit. Each warp of the 05c kernel owns one 16x8 output tile, so every `mma.sync` (m16n8k16) adds into the
result of the one before: K=4096 is a chain of 256 dependent tensor-core instructions, about 30 cycles each, some 4 µs.
Here the same product keeps 2 or 4 independent accumulators (K split inside the tile), so their chains interleave.

    python bench/int8_chains_gpu.py   # writes $OUT/int8-chains.json and bench/results/int8-chains-h200.json
"""
import itertools, json, os, sys, time
from pathlib import Path
import torch, triton
import triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B, int8_copies, rel_err
from nano_serve.quant_kernels import weight_only_mm, weight_only_tiles


@triton.jit
def _chains_kernel(X, W, S, Y, M, N, K, stride_xm, stride_wn, stride_ym,
                   BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr, CHAINS: tl.constexpr):
    "05c's tile of `x @ (W * s)ᵀ` (K a multiple of the tile) with `CHAINS` accumulators, each over its own quarter/half of every K step."
    pid_n, pid_m, pid_k = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    SUB: tl.constexpr = BLOCK_K // CHAINS
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, SUB)
    m_ok, n_ok = rm < M, rn < N
    acc0 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    acc1 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    acc2 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    acc3 = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    per = K // SPLIT_K
    for k0 in range(pid_k * per, pid_k * per + per, BLOCK_K):
        x = tl.load(X + rm[:, None] * stride_xm + (k0 + rk)[None, :], mask=m_ok[:, None], other=0.0)
        acc0 += tl.dot(x, tl.load(W + rn[None, :] * stride_wn + (k0 + rk)[:, None], mask=n_ok[None, :]).to(x.dtype))
        if CHAINS >= 2:
            x = tl.load(X + rm[:, None] * stride_xm + (k0 + SUB + rk)[None, :], mask=m_ok[:, None], other=0.0)
            acc1 += tl.dot(x, tl.load(W + rn[None, :] * stride_wn + (k0 + SUB + rk)[:, None], mask=n_ok[None, :]).to(x.dtype))
        if CHAINS >= 4:
            x = tl.load(X + rm[:, None] * stride_xm + (k0 + 2 * SUB + rk)[None, :], mask=m_ok[:, None], other=0.0)
            acc2 += tl.dot(x, tl.load(W + rn[None, :] * stride_wn + (k0 + 2 * SUB + rk)[:, None], mask=n_ok[None, :]).to(x.dtype))
            x = tl.load(X + rm[:, None] * stride_xm + (k0 + 3 * SUB + rk)[None, :], mask=m_ok[:, None], other=0.0)
            acc3 += tl.dot(x, tl.load(W + rn[None, :] * stride_wn + (k0 + 3 * SUB + rk)[:, None], mask=n_ok[None, :]).to(x.dtype))
    y = (acc0 + acc1 + acc2 + acc3) * tl.load(S + rn, mask=n_ok, other=0.0)[None, :]
    if SPLIT_K > 1: Y += pid_k * M * N
    tl.store(Y + rm[:, None] * stride_ym + rn[None, :], y.to(Y.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _batched_kernel(X, W, S, Y, M, N, K, stride_xm, stride_wn, stride_ym,
                    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr, CHAINS: tl.constexpr):
    "The same with one 3-D (batched) dot: `[CHAINS, BLOCK_M, BLOCK_N]` partial tiles, summed at the end."
    pid_n, pid_m, pid_k = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    SUB: tl.constexpr = BLOCK_K // CHAINS
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rc, rk = tl.arange(0, CHAINS), tl.arange(0, SUB)
    m_ok, n_ok = rm < M, rn < N
    acc = tl.zeros([CHAINS, BLOCK_M, BLOCK_N], tl.float32)
    per = K // SPLIT_K
    for k0 in range(pid_k * per, pid_k * per + per, BLOCK_K):
        kk = k0 + rc[:, None, None] * SUB
        x = tl.load(X + rm[None, :, None] * stride_xm + kk + rk[None, None, :], mask=m_ok[None, :, None], other=0.0)
        w = tl.load(W + rn[None, None, :] * stride_wn + kk + rk[None, :, None], mask=n_ok[None, None, :])
        acc += tl.dot(x, w.to(x.dtype))
    y = tl.sum(acc, 0) * tl.load(S + rn, mask=n_ok, other=0.0)[None, :]
    if SPLIT_K > 1: Y += pid_k * M * N
    tl.store(Y + rm[:, None] * stride_ym + rn[None, :], y.to(Y.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


@triton.jit
def _sum_splits(P, Y, MN, SPLIT_K: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for s in tl.static_range(SPLIT_K): acc += tl.load(P + s * MN + i, mask=i < MN, other=0.0)
    tl.store(Y + i, acc.to(Y.dtype.element_ty), mask=i < MN)


def mm(kernel, x, w, s, t):
    (m, k), n = x.shape, w.shape[0]
    split = t.get('SPLIT_K', 1)
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    part = y if split == 1 else torch.empty(split, m, n, dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(n, t['BLOCK_N']), triton.cdiv(m, t['BLOCK_M']), split)
    kernel[grid](x, w, s, part, m, n, k, x.stride(0), w.stride(0), part.stride(-2), **{'SPLIT_K': 1, **t})
    if split > 1: _sum_splits[(triton.cdiv(m * n, 1024),)](part, y, m * n, SPLIT_K=split, BLOCK=1024)
    return y


R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__, 'date': time.strftime('%Y-%m-%d'), 'us': {}}
for name in ('o', 'qkv', 'down', 'gate_up', 'head'):
    n, k = LLAMA_8B[name]
    ws = int8_copies(n, k, 600)
    s = torch.rand(n, device='cuda') / 100
    for m in ((1, 4) if name in ('o', 'qkv') else (1,)):
        x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
        want = x.float() @ (ws[0].float() * s[:, None]).t()
        res = {'05c': graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3, '05c tiles': weight_only_tiles(m, n, k),
               '05c hot': graph_ms([lambda w=ws[0]: weight_only_mm(x, w, s) for _ in range(len(ws))]) * 1e3, 'MB': n * k / 1e6}
        best = (res['05c'], '05c')
        splits = (1, 2) if k >= 8192 else (1,)
        for kern, chains, bn, bk, warps, stages, split in itertools.product(('chains', 'batched'), (2, 4), (32, 64), (256, 512), (2, 4), (3, 4), splits):
            if kern == 'batched' and (chains == 4 or bk == 512 or stages == 4): continue
            t = dict(BLOCK_M=16, BLOCK_N=bn, BLOCK_K=bk, CHAINS=chains, SPLIT_K=split, num_warps=warps, num_stages=stages)
            key = f'{kern} c{chains} n{bn} k{bk} w{warps} s{stages} split{split}'
            fn = _chains_kernel if kern == 'chains' else _batched_kernel
            try:
                err = rel_err(mm(fn, x, ws[0], s, t), want)
                if err > 2e-2: res[key] = {'error': f'rel err {err:.3g}'}; continue
                us = graph_ms([lambda w=w: mm(fn, x, w, s, t) for w in ws]) * 1e3
                res[key] = round(us, 2)
                if us < best[0]: best = (us, key)
            except Exception as e: res[key] = {'error': repr(e)[:200]}
        res['best'] = {'us': best[0], 'variant': best[1], 'TBps': n * k / best[0] / 1e6, 'vs_05c': res['05c'] / best[0]}
        R['us'][f'{name} m={m}'] = res
        print(name, m, '05c', round(res['05c'], 2), 'hot', round(res['05c hot'], 2), 'best', json.dumps(res['best']), flush=True)
    del ws; torch.cuda.empty_cache()
text = json.dumps(R, indent=1)
if os.environ.get('OUT'): Path(os.environ['OUT'], 'int8-chains.json').write_text(text)
Path(__file__).resolve().parent.joinpath('results', 'int8-chains-h200.json').write_text(text)
