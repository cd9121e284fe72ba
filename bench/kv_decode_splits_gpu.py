"""Context splits per decode row, measured: qwen3-0.6b's heads, contexts uniform in 100-2,047 tokens (the workload's
mix), 256 to 32 rows, a bfloat16 and an e4m3 cache, each call in a CUDA graph, the default order of work (05_kernels,
"Longest first"); 1, 2, 4 and 8 splits against `default_num_splits`'s choice. Writes $OUT/kv-decode-splits.json.

    python bench/kv_decode_splits_gpu.py [--rows 256,128,96,64,32] [--uniform]   (--uniform: every context 1,024 tokens)
"""
import argparse, json, os, sys
from pathlib import Path
import torch
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention, default_num_splits
from gpu_timing import graph_ms
kvh, heads, d, bs = 8, 16, 128, 16
ap = argparse.ArgumentParser(); ap.add_argument('--rows', default='256,128,96,64,32'); ap.add_argument('--uniform', action='store_true')
A = ap.parse_args()
res = []
for rows in map(int, A.rows.split(',')):
    lens = [1024] * rows if A.uniform else torch.randint(100, 2048, (rows,), generator=torch.Generator().manual_seed(rows)).tolist()
    nblk = sum(-(-n // bs) for n in lens) + 8
    meta = AttentionMetadata.build(scattered_block_tables(lens, bs, nblk), [n - 1 for n in lens], lens, bs, 'cuda')
    q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
    kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
    for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
        byts = 2 * sum(lens) * kvh * d * k.element_size()
        for s in (1, 2, 4, 8, 16):
            ms = graph_ms([lambda: paged_decode_attention(q, k, v, meta, num_splits=s)] * 10)
            r = dict(rows=rows, contexts='1024' if A.uniform else '100-2047', cache=name, splits=s, default=default_num_splits(rows, kvh, q.device), ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2))
            res.append(r); print(rows, r['contexts'], name, s, r['default'], r['ms'], r['TBps'], flush=True)
Path(os.environ.get('OUT', '/tmp'), f"kv-decode-splits{'-uniform' if A.uniform else ''}.json").write_text(json.dumps(res, indent=1))
