"""Issue 16: should e4m3 weights at one row take 05c's one-row kernel, as int8 did before its integer products?
Each llama-3.1-8b matrix in e4m3 with row scales: `one_row_mm` swept (rows a program, K step, warps) against the tile
kernel `weight_only_mm` that `Fp8Linear` used, each timed in a CUDA graph over weight copies that defeat the L2, each
checked against float64. Exploration for 05c_quant_kernels.

    python bench/fp8_one_row_gpu.py   # writes $OUT/fp8-one-row.json
"""
import itertools, json, os, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B
from nano_serve.quant_kernels import weight_only_mm, one_row_mm, one_row_tiles, fp8_rows

R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'shapes': {}}
torch.manual_seed(0)
for name, (n, k) in LLAMA_8B.items():
    q, s = fp8_rows(torch.randn(n, k, device='cuda', dtype=torch.bfloat16))
    s = s.reshape(-1).contiguous()
    ws = [q] + [q.clone() for _ in range(max(1, -(-400 * 2**20 // (n * k)) - 1))]
    x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16)
    want = x.double() @ (q.double() * s.double()[:, None]).t()
    err = lambda y: ((y.double() - want).abs().max() / want.abs().max()).item()
    res = {'MB': n * k / 1e6, 'us tile': graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3, 'err tile': err(weight_only_mm(x, q, s))}
    rule = one_row_tiles(n, k, q.dtype)
    if rule: res['us rule'] = graph_ms([lambda w=w: one_row_mm(x, w, s, rule) for w in ws]) * 1e3
    best = (res['us tile'], 'tile')
    for rows, bk, warps in itertools.product((2, 4, 8), (512, 1024), (4, 8)):
        t, key = dict(ROWS=rows, BLOCK_K=bk, num_warps=warps, num_stages=2), f'rows{rows} k{bk} w{warps}'
        try:
            e = err(one_row_mm(x, q, s, t))
            if e > 2e-2: res[key] = f'wrong: {e:.3g}'; continue
            res[key] = round(graph_ms([lambda w=w: one_row_mm(x, w, s, t) for w in ws]) * 1e3, 2)
            if res[key] < best[0]: best = (res[key], key)
        except Exception as ex: res[key] = f'failed: {type(ex).__name__}: {str(ex)[:200]}'
    res['best'] = best
    R['shapes'][name] = res
    print(name, {k: v for k, v in res.items() if k.startswith(('us', 'err', 'best'))}, flush=True)
    del ws; torch.cuda.empty_cache()
Path(os.environ.get('OUT', '/tmp'), 'fp8-one-row.json').write_text(json.dumps(R, indent=1))
