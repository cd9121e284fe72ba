"""Issue 16: can the int8 weight-only product read llama-3.1-8b's 4096-wide matrices faster at one row? Two variants
beside 05c's `weight_only_mm` (weights as the right operand of `tl.dot`, loaded by ordinary loads):

- `swap`: the weights as the *left* operand (`W_tile @ xᵀ`, [BLOCK_N, BLOCK_K] x [BLOCK_K, 16]), so the wide side of
  the tensor-core product is the weights' rows and the one activation row pads only the narrow side;
- `swap_tma`: the same with the weight tiles brought by Hopper's tensor memory accelerator (a host-side
  `TensorDescriptor`), which copies whole tiles to shared memory without the threads issuing each load.

Each over tiles, pipeline stages and K slices (float32 partials summed by 05c's `_sum_splits_kernel`), timed inside a
CUDA graph over enough weight copies to defeat the L2 cache, checked against the widened weights.
Writes $OUT/int8-swap.json. Exploration for 05c_quant_kernels; not imported anywhere.

    python bench/int8_swap_gpu.py
"""
import json, os, sys, time, itertools
from pathlib import Path
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.quant_kernels import weight_only_mm, _sum_splits_kernel
from gpu_timing import graph_ms, int8_copies, rel_err, LLAMA_8B


@triton.jit
def swap_kernel(X, W, w_desc, S, P, M, N, K, sxm, swn, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                SPLIT: tl.constexpr, TMA: tl.constexpr):
    "One [BN, BM] tile of (W*s) @ xᵀ over one of SPLIT slices of K; float32 partials into P [SPLIT, M, N]."
    pn, ps = tl.program_id(0), tl.program_id(1)
    rn, rm, rk = pn * BN + tl.arange(0, BN), tl.arange(0, BM), tl.arange(0, BK)
    acc = tl.zeros([BN, BM], tl.float32)
    per = K // SPLIT
    for k0 in range(ps * per, ps * per + per, BK):
        if TMA: w = w_desc.load([pn * BN, k0])
        else: w = tl.load(W + rn[:, None] * swn + (k0 + rk)[None, :])
        x = tl.load(X + rm[:, None] * sxm + (k0 + rk)[None, :], mask=(rm < M)[:, None], other=0.0)
        acc += tl.dot(w.to(tl.bfloat16), tl.trans(x))
    acc = acc * tl.load(S + rn)[:, None]
    tl.store(P + ps * M * N + rm[None, :] * N + rn[:, None], acc, mask=(rm < M)[None, :])


def swap_mm(x, w, s, c, desc=None):
    "x @ (w*s)ᵀ with `swap_kernel` and config c; the float32 partials summed into bf16 by 05c's kernel."
    m, k = x.shape; n = w.shape[0]
    part = torch.empty(c['SPLIT'], m, n, dtype=torch.float32, device=x.device)
    # without TMA the descriptor's slot is unused: the weights fill it
    swap_kernel[(n // c['BN'], c['SPLIT'])](x, w, desc if c['TMA'] else w, s, part, m, n, k, x.stride(0), w.stride(0),
                                            BM=16, BN=c['BN'], BK=c['BK'], SPLIT=c['SPLIT'], TMA=c['TMA'],
                                            num_warps=c['num_warps'], num_stages=c['num_stages'])
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    _sum_splits_kernel[(triton.cdiv(m * n, 1024),)](part, y, m * n, SPLIT_K=c['SPLIT'], BLOCK=1024)
    return y


CONFIGS = [dict(TMA=tma, BN=bn, BK=bk, SPLIT=sp, num_warps=4, num_stages=st)
           for tma, bn, bk, sp, st in itertools.product((False, True), (64, 128), (128, 256), (1, 2, 4), (3, 5))]
R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__,
     'date': time.strftime('%Y-%m-%d'), 'shapes': {}}
torch.manual_seed(0)
from triton.tools.tensor_descriptor import TensorDescriptor
t0 = time.time()
for name in ('qkv', 'o', 'down', 'gate_up'):
    n, k = LLAMA_8B[name]
    ws = int8_copies(n, k)
    s = torch.rand(n, device='cuda') / 100
    x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16)
    want = x.float() @ (ws[0].float() * s[:, None]).t()
    out = {'MB': n * k / 1e6, 'package_us': graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3, 'variants': []}
    for c in CONFIGS:
        if k % (c['SPLIT'] * c['BK']) or n % c['BN']: continue
        try:
            descs = [TensorDescriptor.from_tensor(w, [c['BN'], c['BK']]) if c['TMA'] else None for w in ws]
            err = rel_err(swap_mm(x, ws[0], s, c, descs[0]), want)
            us = graph_ms([lambda w=w, d=d: swap_mm(x, w, s, c, d) for w, d in zip(ws, descs)]) * 1e3
            out['variants'].append({**c, 'us': us, 'err': err})
        except Exception as e: out['variants'].append({**c, 'error': repr(e)[:200]})
    ok = [v for v in out['variants'] if 'us' in v and v['err'] < 1e-2]
    for tma in (False, True):
        best = min((v for v in ok if v['TMA'] == tma), key=lambda v: v['us'], default=None)
        out['best_tma' if tma else 'best_swap'] = best
    print(name, round(out['package_us'], 2), 'swap', out['best_swap'], 'tma', out['best_tma'],
          'errors', sum('error' in v for v in out['variants']), round(time.time() - t0), flush=True)
    R['shapes'][name] = out
    del ws; torch.cuda.empty_cache()
if os.environ.get('OUT'): Path(os.environ['OUT'], 'int8-swap.json').write_text(json.dumps(R, indent=1))
