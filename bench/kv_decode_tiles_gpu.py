"""The decode kernel's tiles swept again over a bfloat16 and an e4m3 cache, one to four pipeline stages (one: no
asynchronous copies, K/V widened in registers before shared memory), qwen3-0.6b's heads, 256 and 64 rows of 1,024
tokens, each variant in a CUDA graph. Prints the best four of each; writes $OUT/tc-sweep.json.
"""
import json, os, sys, itertools
from pathlib import Path
import torch
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention
from gpu_timing import graph_ms
kvh, heads, d, bs, ctx = 8, 16, 128, 16, 1024
res = []
for rows in (256, 64):
    nblk = rows * ctx // bs + 8
    meta = AttentionMetadata.build(scattered_block_tables([ctx] * rows, bs, nblk), [ctx - 1] * rows, [ctx] * rows, bs, 'cuda')
    q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
    kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
    for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
        byts = 2 * rows * ctx * kvh * d * k.element_size()
        for bn, nw, ns in itertools.product((32, 64, 128, 256), (2, 4, 8), (1, 2, 3, 4)):
            try: ms = graph_ms([lambda: paged_decode_attention(q, k, v, meta, block_n=bn, num_warps=nw, num_stages=ns)] * 10)
            except Exception: continue   # a tile that does not fit this card
            res.append(dict(rows=rows, cache=name, bn=bn, nw=nw, ns=ns, ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2)))
for rows in (256, 64):
    for c in ('bf16', 'fp8'):
        rs = sorted([r for r in res if r['rows'] == rows and r['cache'] == c], key=lambda r: r['ms'])
        print(rows, c, 'best', rs[:4]); print('  stages=1 best', [r for r in rs if r['ns'] == 1][:2])
Path(os.environ['OUT'], 'tc-sweep.json').write_text(json.dumps(res))
