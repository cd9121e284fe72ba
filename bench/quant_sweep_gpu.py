"""Two sweeps for issue 16's GPU goals, each timed inside CUDA graphs over enough copies to defeat the L2 cache:

1. the int8 weight-only product at decode's row counts on llama-3.1-8b's matrices: the package's `weight_only_mm` at its
   tiles, and a split-K variant (each program a slice of K; partial sums reduced by a second kernel, or added atomically
   into float32) over tiles, warps, stages and splits; beside bf16 cuBLAS on the same shapes;
2. the paged decode attention kernel over a bfloat16 and an e4m3 cache (qwen3-0.6b's heads, 256 rows x 1,024 tokens)
   over `block_n`, warps and stages.

Exploration for 05c_quant_kernels and 05_kernels; writes $OUT/quant-sweep.json.
    python bench/quant_sweep_gpu.py [matmul] [attention]
"""
import json, os, sys, time
from pathlib import Path
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.quant_kernels import weight_only_mm, weight_only_tiles, _sum_splits_kernel   # (the package's reduce, once this sweep chose split-K)
from gpu_timing import graph_ms
from nano_serve.kernels import paged_decode_attention
from nano_serve.cache import AttentionMetadata, scattered_block_tables

PARTS = [a for a in sys.argv[1:] if not a.startswith('-')] or ['matmul', 'attention']
R = {'gpu': torch.cuda.get_device_name(0), 'date': time.strftime('%Y-%m-%d'), 'matmul': {}, 'attention': {}}


@triton.jit
def split_k(X, W, S, P, M, N, K, sxm, swn, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
            SPLIT: tl.constexpr, ATOMIC: tl.constexpr):
    "One [BM, BN] tile of x @ (W*s)^T over one K slice; float32 partials to P[split] (or added atomically into P)."
    pn, pm, ps = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    rm, rn, rk = pm * BM + tl.arange(0, BM), pn * BN + tl.arange(0, BN), tl.arange(0, BK)
    acc = tl.zeros([BM, BN], tl.float32)
    per = K // SPLIT
    for k0 in range(ps * per, ps * per + per, BK):
        x = tl.load(X + rm[:, None] * sxm + (k0 + rk)[None, :], mask=(rm < M)[:, None], other=0.0)
        w = tl.load(W + rn[None, :] * swn + (k0 + rk)[:, None])
        acc += tl.dot(x, w.to(x.dtype))
    acc = acc * tl.load(S + rn)[None, :]
    offs = rm[:, None] * N + rn[None, :]
    if ATOMIC: tl.atomic_add(P + offs, acc, mask=(rm < M)[:, None], sem='relaxed')
    elif SPLIT == 1: tl.store(P + offs, acc.to(P.dtype.element_ty), mask=(rm < M)[:, None])
    else: tl.store(P + ps * M * N + offs, acc, mask=(rm < M)[:, None])


def split_k_mm(x, w, s, c):
    "x @ (w*s)^T with the split-K kernel and config c (BM, BN, BK, SPLIT, ATOMIC, num_warps, num_stages)."
    m, k = x.shape; n = w.shape[0]
    kw = dict(BM=c['BM'], BN=c['BN'], BK=c['BK'], SPLIT=c['SPLIT'], ATOMIC=c['ATOMIC'], num_warps=c['num_warps'], num_stages=c['num_stages'])
    grid = (n // c['BN'], triton.cdiv(m, c['BM']), c['SPLIT'])
    if c['SPLIT'] == 1:
        y = torch.empty(m, n, dtype=x.dtype, device=x.device)
        split_k[grid](x, w, s, y, m, n, k, x.stride(0), w.stride(0), **kw); return y
    if c['ATOMIC']:
        p = torch.zeros(m, n, dtype=torch.float32, device=x.device)
        split_k[grid](x, w, s, p, m, n, k, x.stride(0), w.stride(0), **kw); return p.to(x.dtype)
    p = torch.empty(c['SPLIT'], m, n, dtype=torch.float32, device=x.device)
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    split_k[grid](x, w, s, p, m, n, k, x.stride(0), w.stride(0), **kw)
    _sum_splits_kernel[(triton.cdiv(m * n, 1024),)](p, y, m * n, SPLIT_K=c['SPLIT'], BLOCK=1024)
    return y


SHAPES = {'qkv': (6144, 4096), 'o': (4096, 4096), 'gate_up': (28672, 4096), 'down': (4096, 14336), 'head': (128256, 4096)}
if 'matmul' in PARTS:
    torch.manual_seed(0)
    for name, (n, k) in SHAPES.items():
        copies = max(2, 600_000_000 // (n * k))
        ws = [torch.randint(-127, 128, (n, k), dtype=torch.int8, device='cuda') for _ in range(copies)]
        s = torch.rand(n, device='cuda') / 100
        wb = [torch.randn(n, k, device='cuda', dtype=torch.bfloat16) for _ in range(max(2, copies // 2))]
        for m in (1, 4):
            x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
            ref = (x.float() @ (ws[0].float() * s[:, None]).t())
            row = {'bf16_ms': graph_ms([lambda w=w: x @ w.t() for w in wb])}
            row['package_ms'] = graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws])
            row['package_tiles'] = weight_only_tiles(m, n)
            cands = []
            for bn in (16, 32, 64):
                for bk in (256, 512):
                    for wp, st in ((2, 3), (4, 3), (4, 4), (8, 3)):
                        for split in (1, 2, 4, 8):
                            if k % (split * bk): continue
                            for atomic in ((False, True) if split > 1 else (False,)):
                                cands.append(dict(BM=16, BN=bn, BK=bk, SPLIT=split, ATOMIC=atomic, num_warps=wp, num_stages=st))
            res = []
            for c in cands:
                try:
                    err = ((split_k_mm(x, ws[0], s, c).float() - ref).abs().max() / ref.abs().max()).item()
                    t = graph_ms([lambda w=w, c=c: split_k_mm(x, w, s, c) for w in ws], 3)
                    res.append((t, c, err))
                except Exception as e: print('skip', c, repr(e)[:120], flush=True)
            res.sort(key=lambda r: r[0])
            row['best'] = [{'ms': t, 'TBps': n * k / t / 1e9, 'config': c, 'rel_err': err} for t, c, err in res[:6]]
            for sp in (1, 2, 4, 8):   # the best of each split count, so the table shows what splitting buys
                b = next((r for r in res if r[1]['SPLIT'] == sp), None)
                if b: row[f'best_split{sp}'] = {'ms': b[0], 'TBps': n * k / b[0] / 1e9, 'config': b[1]}
            row['package_TBps'] = n * k / row['package_ms'] / 1e9
            R['matmul'][f'{name} m={m}'] = row
            print(name, m, json.dumps({k_: v for k_, v in row.items() if k_ != 'best'}), json.dumps(row['best'][0]), flush=True)
        del ws, wb; torch.cuda.empty_cache()

if 'attention' in PARTS:
    for rows, ctx in ((256, 1024), (32, 1024)):
        kvh, heads, d, bs = 8, 16, 128, 16
        nblk = rows * ctx // bs + 8
        meta = AttentionMetadata.build(scattered_block_tables([ctx] * rows, bs, nblk), [ctx - 1] * rows, [ctx] * rows, bs, 'cuda')
        q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
        kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
        for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
            ref = paged_decode_attention(q, k, v, meta).float()
            res = []
            for bn in (16, 32, 64, 128):
                for wp in (2, 4, 8):
                    for st in (1, 2, 3, 4):
                        kw = dict(block_n=bn, num_warps=wp, num_stages=st)
                        try:
                            err = ((paged_decode_attention(q, k, v, meta, **kw).float() - ref).abs().max()).item()
                            t = graph_ms([lambda kw=kw: paged_decode_attention(q, k, v, meta, **kw)] * 10)
                            res.append((t, kw, err))
                        except Exception as e: print('skip', kw, repr(e)[:120], flush=True)
            default = next(r for r in res if r[1] == dict(block_n=64, num_warps=4, num_stages=3))
            res.sort(key=lambda r: r[0])
            nbytes = 2 * rows * ctx * kvh * d * k.element_size()
            R['attention'][f'{name} rows={rows} ctx={ctx}'] = row = {
                'default_ms': default[0], 'default_TBps': nbytes / default[0] / 1e9,
                'best': [{'ms': t, 'TBps': nbytes / t / 1e9, 'config': kw, 'max_abs_diff': e} for t, kw, e in res[:6]]}
            print(name, rows, ctx, json.dumps(row), flush=True)

out = os.environ.get('OUT')
if out: Path(out, 'quant-sweep.json').write_text(json.dumps(R, indent=1))
