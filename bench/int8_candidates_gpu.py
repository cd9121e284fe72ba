"""Issue 16: is PyTorch's own CUDA int8 weight-only product (`torch._weight_int8pack_mm`, which has a CUDA kernel in torch 2.11) faster
than 05c's Triton `weight_only_mm` at decode's row counts on llama-3.1-8b's matrices? Each timed inside a CUDA graph
over enough weight copies to defeat the L2 cache (`gpu_timing.graph_ms`), beside bf16 cuBLAS and the bf16
`SmallBatchLinear` path, with each candidate's error against the widened weights. Writes $OUT/int8-candidates.json.
Exploration for 05c_quant_kernels; not imported anywhere.

    python bench/int8_candidates_gpu.py
"""
import json, os, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.quant_kernels import weight_only_mm, gemv_tiles
from gpu_timing import graph_ms, int8_copies, rel_err, LLAMA_8B

R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'rows': {}}
torch.manual_seed(0)
for name, (n, k) in LLAMA_8B.items():
    ws = int8_copies(n, k)
    s = torch.rand(n, device='cuda') / 100
    s16 = s.to(torch.bfloat16)
    wb = [torch.randn(n, k, device='cuda', dtype=torch.bfloat16) for _ in range(max(2, len(ws) // 2))]
    ones = torch.ones(n, device='cuda')
    for m in (1, 4):
        x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
        want = x.float() @ (ws[0].float() * s[:, None]).t()
        row = {'MB_int8': n * k / 1e6}
        row['bf16_cublas_us'] = graph_ms([lambda w=w: x @ w.t() for w in wb]) * 1e3
        row['bf16_small_batch_us'] = graph_ms([lambda w=w: weight_only_mm(x, w, ones, gemv_tiles(k, n)) for w in wb]) * 1e3
        row['triton_us'] = graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3
        row['triton_err'] = rel_err(weight_only_mm(x, ws[0], s), want)
        try:
            row['int8pack_us'] = graph_ms([lambda w=w: torch._weight_int8pack_mm(x, w, s16) for w in ws]) * 1e3
            row['int8pack_err'] = rel_err(torch._weight_int8pack_mm(x, ws[0], s16), want)
        except Exception as e: row['int8pack_error'] = repr(e)[:300]
        for key in ('triton', 'int8pack', 'bf16_cublas', 'bf16_small_batch'):
            if f'{key}_us' in row: row[f'{key}_TBps'] = (n * k * (2 if key.startswith('bf16') else 1)) / (row[f'{key}_us'] * 1e-6) / 1e12
        R['rows'][f'{name} m={m}'] = row
        print(name, m, json.dumps({a: round(b, 4) if isinstance(b, float) else b for a, b in row.items()}), flush=True)
    del ws, wb; torch.cuda.empty_cache()
if os.environ.get('OUT'): Path(os.environ['OUT'], 'int8-candidates.json').write_text(json.dumps(R, indent=1))
