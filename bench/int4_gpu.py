"""Issue 16 on the GPU: 4-bit weights at the row counts a server batches. PyTorch's tinygemm (`torch._weight_int4pack_mm`)
against 05c's `int4_mm` (tensor-core tiles over GGUF-ordered nibbles) and bfloat16 cuBLAS, on llama-3.1-8b's and
qwen3-0.6b's matrices at 1-1,024 rows, each timed inside a CUDA graph over enough weight copies to defeat the L2 cache;
`int4_mm` at its shipped tiles (`int4_tiles`) and at the best of a small sweep; and `int4_widen` then cuBLAS.

    python bench/int4_gpu.py [--rows 1,8,64,256,1024] [--no-sweep]   # writes $OUT/int4-gpu.json
"""
import argparse, itertools, json, os, sys, time
from pathlib import Path
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from nano_serve.quant_kernels import int4_mm, int4_tiles, int4_pack, int4_widen
from nano_serve.quantization import int4_groups, _inner_k_tiles
from gpu_timing import graph_ms, LLAMA_8B

ap = argparse.ArgumentParser()
ap.add_argument('--rows', default='1,8,64,256,1024')
ap.add_argument('--no-sweep', action='store_true')
ap.add_argument('--out', default=os.environ.get('OUT', '.') + '/int4-gpu.json')
A = ap.parse_args()
SHAPES = {**{f'8b {k}': v for k, v in LLAMA_8B.items() if k != 'head'},
          '0.6b qkv': (4096, 1024), '0.6b o': (1024, 2048), '0.6b gate_up': (6144, 1024), '0.6b down': (1024, 3072)}   # [N, K]
R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'shapes': {}}


def sweep_tiles(m: int, k: int):
    "The configurations tried at `m` rows: few rows in more programs (narrow tiles, K in slices), many in larger tiles."
    if m <= 16: space = itertools.product([16], (16, 32, 64), (128, 256), (1, 2, 4, 8), (2, 4), (3,))
    else: space = itertools.product([32, 64] if m <= 64 else [64, 128] if m <= 256 else [128], (64, 128), (64, 128, 256),
                                    (1, 2, 4) if m <= 256 else (1,), (4, 8), (3,))
    for bm, bn, bk, split, w, s in space:
        if k % (bk * split): continue
        yield dict(BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, SPLIT_K=split, num_warps=w, num_stages=s)


def copies(n: int, k: int, mb: int = 300) -> int:
    "How many copies of a 4-bit `[n, k]` matrix read `mb` MB: none comes from L2."
    return max(2, -(-mb * 2**20 // (n * k // 2)))


t_all = time.perf_counter()
for name, (n, k) in SHAPES.items():
    wf = torch.randn(n, k, device='cuda') * 0.02
    q, scale, zero = int4_groups(wf)
    sz = torch.stack([scale.t(), zero.t()], -1).to(torch.bfloat16).contiguous()
    tiny = torch._convert_weight_to_int4pack((q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8), _inner_k_tiles(k))
    ours = int4_pack(q)
    bf = ((q.reshape(n, -1, 32) - 8) * sz[..., 0].t().float()[..., None] + sz[..., 1].t().float()[..., None]).reshape(n, k).to(torch.bfloat16)
    c = copies(n, k)
    oursc, tinyc, bfc = [ours.clone() for _ in range(c)], [tiny.clone() for _ in range(c)], [bf.clone() for _ in range(max(2, c // 4))]
    row = R['shapes'][name] = {'n': n, 'k': k, 'copies': c}
    for m in [int(r) for r in A.rows.split(',')]:
        x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
        ref = x.float() @ bf.float().t()
        err = lambda y: ((y.float() - ref).norm() / ref.norm()).item()
        r = row[m] = {'err_int4_mm': err(int4_mm(x, ours, sz)), 'err_tinygemm': err(torch._weight_int4pack_mm(x, tiny, 32, sz))}
        r['bf16_ms'] = graph_ms([lambda w=w: F.linear(x, w) for w in bfc])
        r['tinygemm_ms'] = graph_ms([lambda w=w: torch._weight_int4pack_mm(x, w, 32, sz) for w in tinyc])
        r['int4_mm_ms'] = graph_ms([lambda w=w: int4_mm(x, w, sz) for w in oursc])
        r['err_widen'] = err(F.linear(x, int4_widen(ours, sz)))
        r['widen_ms'] = graph_ms([lambda w=w: F.linear(x, int4_widen(w, sz)) for w in oursc])   # the matrix widened once, then cuBLAS
        r['shipped'] = int4_tiles(m, n, k)
        if not A.no_sweep:
            best = (r['int4_mm_ms'], r['shipped'])
            for t in sweep_tiles(m, k):
                try: ms = graph_ms([lambda w=w: int4_mm(x, w, sz, t) for w in oursc])
                except Exception as e: print('failed', name, m, t, repr(e)[:200], flush=True); continue
                best = min(best, (ms, t), key=lambda b: b[0])
            r['best_ms'], r['best'] = best
        r['GBps_int4_mm'] = (n * k * 0.625) / (r['int4_mm_ms'] / 1e3) / 1e9
        print(name, m, {kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in r.items()}, f'{time.perf_counter() - t_all:.0f}s', flush=True)
    del oursc, tinyc, bfc; torch.cuda.empty_cache()
    Path(A.out).write_text(json.dumps(R, indent=1))
R['seconds'] = time.perf_counter() - t_all
Path(A.out).write_text(json.dumps(R, indent=1))
print('wrote', A.out)
