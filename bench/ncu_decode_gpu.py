"""The decode kernel under Nsight Compute (05_kernels, "Few programs, and registers"): 256 rows of 1,024 tokens,
qwen3-0.6b's heads, three calls over a bfloat16 cache, then three over e4m3. Profile one of each:

    ncu --clock-control none -k regex:_decode_kernel --launch-skip 2 --launch-count 1 --section SpeedOfLight \
        --section WarpStateStats --section Occupancy --section LaunchStats python3 bench/ncu_decode_gpu.py   # bfloat16
    (--launch-skip 5 for e4m3)
"""
import sys, torch
sys.path.insert(0, '.')
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention
kvh, heads, d, bs, rows, ctx = 8, 16, 128, 16, 256, 1024
lens = [ctx] * rows; nblk = rows * ctx // bs + 8
meta = AttentionMetadata.build(scattered_block_tables(lens, bs, nblk), [n - 1 for n in lens], lens, bs, 'cuda')
q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
for k, v in ((kb, vb), (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))):
    for _ in range(3): paged_decode_attention(q, k, v, meta)
torch.cuda.synchronize()
