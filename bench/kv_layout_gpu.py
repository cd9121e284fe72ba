"""The K/V cache's layout in memory for the decode kernel (issue 16): token-major blocks `[blocks, 16 tokens, kv heads,
D]` (one token's heads side by side, today's) against head-major `[blocks, kv heads, 16 tokens, D]` (one head's 16
tokens side by side), both handed to the same kernel as a `[blocks, tokens, kv heads, D]` view, so only the strides
differ. A kv head's slice of a token is D values: 128 bytes in e4m3, 256 in bfloat16, a stride of kv heads x D apart
when token-major; head-major makes a block's slice for one head 16 x D contiguous values (2 KB of e4m3). qwen3-0.6b's
heads (16 query, 8 kv, 128 wide), blocks placed at random, each call in a CUDA graph; a few tiles of the e4m3 kernel
too. Checks both layouts give the same output; writes $OUT/kv-layout.json.

    python bench/kv_layout_gpu.py
"""
import json, os, sys
from pathlib import Path
import torch
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
from nano_serve.kernels import paged_decode_attention, decode_tiles
from gpu_timing import graph_ms, decode_problem
kvh, heads, d, bs = 8, 16, 128, 16
res = []
TILES = {'bf16': [{}, dict(block_n=128, num_warps=4, num_stages=2), dict(block_n=32, num_warps=4, num_stages=3)],
         'fp8': [{}, dict(block_n=64, num_warps=4, num_stages=3), dict(block_n=128, num_warps=4, num_stages=2),
                 dict(block_n=256, num_warps=4, num_stages=2), dict(block_n=64, num_warps=2, num_stages=3),
                 dict(block_n=32, num_warps=2, num_stages=4)]}
for rows, mix in ((256, False), (256, True), (64, True)):
    lens, meta, q, kb, vb = decode_problem(rows, mix, kvh, heads, d, bs)
    for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
        layouts = {'token-major': (k, v), 'head-major': (k.transpose(1, 2).contiguous().transpose(1, 2), v.transpose(1, 2).contiguous().transpose(1, 2))}
        byts = 2 * sum(lens) * kvh * d * k.element_size()
        for tiles in TILES[name]:
            outs = []
            for _ in range(2):
                for lay, (kk, vv) in layouts.items():
                    outs.append(paged_decode_attention(q, kk, vv, meta, **tiles))
                    ms = graph_ms([lambda: paged_decode_attention(q, kk, vv, meta, **tiles)] * 10)
                    r = dict(rows=rows, contexts='100-2047' if mix else '1024', cache=name, layout=lay, tiles={**decode_tiles(k.dtype), **tiles},
                             ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2))
                    res.append(r); print(rows, r['contexts'], name, lay, tiles, r['ms'], r['TBps'], flush=True)
            assert all(torch.equal(outs[0], o) for o in outs), (rows, name, tiles)
Path(os.environ.get('OUT', '/tmp'), 'kv-layout.json').write_text(json.dumps(res, indent=1))
