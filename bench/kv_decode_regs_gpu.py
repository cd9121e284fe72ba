"""The decode kernel's tiles against a cap on registers (05_kernels, "Few programs, and registers"). Under Nsight
Compute the e4m3 kernel of 128 keys and 2 warps used 255 registers a thread, so a multiprocessor held 8 warps (12.5%
occupancy) and stalled on latency with half its issue slots idle. Each tile is timed with Triton's `maxnreg` at the
compiler's choice and at a few caps, for both cache dtypes, qwen3-0.6b's heads (16 query, 8 kv, 128 wide), blocks
placed at random, contexts uniform in 100-2,047 ('m') or all 1,024 ('u'), each call in a CUDA graph, against the
output of `decode_tiles`' choice. `{}` in the output is today's `decode_tiles` choice; `old` the tiles before it.

    python bench/kv_decode_regs_gpu.py [--rows 256m,128m,64m,32m] [--maxnreg none,232,200,168] [--tiles all|old]
"""
import argparse, json, os, sys, torch
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
import nano_serve.kernels as K
from gpu_timing import graph_ms, decode_problem
ap = argparse.ArgumentParser()
ap.add_argument('--rows', default='256m,128m,64m,32m'); ap.add_argument('--maxnreg', default='none,232,200,168')
ap.add_argument('--tiles', default='all', help="'all': a sweep of tiles; 'old': today's choice against the tiles before it")
A = ap.parse_args()
real = K._decode_kernel


class Capped:
    "The decode kernel launched with `maxnreg=n` (None: `decode_tiles`' own choice)."
    def __init__(self, n): self.n = n
    def __getitem__(self, grid):
        f = real[grid]
        return lambda *a, **kw: f(*a, **{**kw, **({'maxnreg': self.n} if self.n else {})})


OLD = {'fp8': dict(block_n=128, num_warps=2, num_stages=2, maxnreg=None), 'bf16': dict(block_n=64, num_warps=4, num_stages=3, maxnreg=None)}
SWEEP = {'fp8': [{}, dict(block_n=64, num_warps=2, num_stages=3), dict(block_n=64, num_warps=2, num_stages=4),
                 dict(block_n=128, num_warps=4, num_stages=2), dict(block_n=128, num_warps=4, num_stages=3), OLD['fp8']],
         'bf16': [{}, dict(block_n=128, num_warps=4, num_stages=2), dict(block_n=64, num_warps=2, num_stages=3), OLD['bf16']]}
kvh, heads, d, bs = 8, 16, 128, 16
caps = [None if c == 'none' else int(c) for c in A.maxnreg.split(',')]
res = []
for spec in A.rows.split(','):
    rows, mix = int(spec[:-1]), spec[-1] == 'm'
    lens, meta, q, kb, vb = decode_problem(rows, mix, kvh, heads, d, bs)
    for dt in ('fp8', 'bf16'):
        k, v = (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn)) if dt == 'fp8' else (kb, vb)
        ref = K.paged_decode_attention(q, k, v, meta)
        byts = 2 * sum(lens) * kvh * d * k.element_size()
        for tiles in (SWEEP[dt] if A.tiles == 'all' else [{}, OLD[dt]]):
            for n in (caps if tiles is not OLD[dt] else [None]):
                K._decode_kernel = Capped(n)
                try:
                    out = K.paged_decode_attention(q, k, v, meta, **tiles)
                    err = (out.float() - ref.float()).abs().max().item()
                    ms = graph_ms([lambda: K.paged_decode_attention(q, k, v, meta, **tiles)] * 10)
                finally: K._decode_kernel = real
                r = dict(rows=rows, contexts='100-2047' if mix else '1024', cache=dt, tiles='old' if tiles is OLD[dt] else tiles,
                         maxnreg=n, ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2), err=err)
                res.append(r); print(json.dumps(r), flush=True)
open(os.path.join(os.environ.get('OUT', '/tmp'), f'kv-decode-regs-{A.rows}-{A.tiles}.json'), 'w').write(json.dumps(res, indent=1))
