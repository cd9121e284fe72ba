"""The decode kernel's order of work: programs of one request's kv heads side by side (`heads_first`) or one kv head
of every request before the next; requests longest context first (`longest_first`) or as they come. qwen3-0.6b's
heads (16 query, 8 kv, 128 wide), blocks of 16 tokens placed at random, a bfloat16 and an e4m3 cache, each call in a
CUDA graph; a uniform context of 1,024 tokens and the workload's mix (contexts uniform in 100-2,047). Checks every
order gives the same output; writes $OUT/kv-decode-order.json.

    python bench/kv_decode_order_gpu.py
"""
import json, os, sys, itertools
from pathlib import Path
import torch
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention, decode_tiles
from gpu_timing import graph_ms
kvh, heads, d, bs = 8, 16, 128, 16
res = []
for rows, mix in ((256, False), (256, True), (128, True), (64, True), (16, True)):
    g = torch.Generator().manual_seed(rows)
    lens = torch.randint(100, 2048, (rows,), generator=g).tolist() if mix else [1024] * rows
    nblk = sum(-(-n // bs) for n in lens) + 8
    q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
    kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
    for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
        byts = 2 * sum(lens) * kvh * d * k.element_size()
        outs = []
        for hf, lf in list(itertools.product((False, True), (False, True))) * 2:
            meta = AttentionMetadata.build(scattered_block_tables(lens, bs, nblk), [n - 1 for n in lens], lens, bs, 'cuda')
            outs.append(paged_decode_attention(q, k, v, meta, heads_first=hf, longest_first=lf))
            ms = graph_ms([lambda: paged_decode_attention(q, k, v, meta, heads_first=hf, longest_first=lf)] * 10)
            r = dict(rows=rows, contexts='100-2047' if mix else '1024', cache=name, heads_first=hf, longest_first=lf,
                     tiles=decode_tiles(k.dtype), ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2))
            res.append(r); print(rows, r['contexts'], name, hf, lf, r['ms'], r['TBps'], flush=True)
        assert all(torch.equal(outs[0], o) for o in outs), (rows, name)
Path(os.environ.get('OUT', '/tmp'), 'kv-decode-order.json').write_text(json.dumps(res, indent=1))
