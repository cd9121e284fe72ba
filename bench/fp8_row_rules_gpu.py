"""Issue 16: FP8 (e4m3) weights at batch 1 take 05c's one-row kernel with int8's tiles. Do the tiles that the
standalone e4m3 sweep preferred (`bench/fp8_one_row_gpu.py`: qkv 4 rows and K 512 at a time, o and down 8 rows and
K 1,024) pay inside llama-3.1-8b's step? Each rule patched into `one_row_tiles` for one engine build, bf16 before
and after as the baseline, in one call.

    python bench/fp8_row_rules_gpu.py   # writes $OUT/fp8-row-rules.json
"""
import sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import open_bracket, patched_steps, close_bracket
import nano_serve.quant_kernels as qk

T = lambda rows, k: dict(ROWS=rows, BLOCK_K=k, num_warps=4, num_stages=2)
def rule(small, mid):
    "e4m3 weights: `small` tiles up to 4,096 outputs, `mid` up to 8,192, the tile kernel above; others as 05c."
    orig = qk.one_row_tiles
    def tiles(n, k, dtype):
        if dtype != torch.float8_e4m3fn or n > 8192: return orig(n, k, dtype)
        return small if n <= 4096 else mid
    return tiles
RULES = {'05c': None,
         'sweep: n<=4096 rows8 k1024, else rows4 k512': rule(T(8, 1024), T(4, 512)),
         'rows8 k1024 for all': rule(T(8, 1024), T(8, 1024)),
         'n<=4096 rows8 k1024, else rows4 k1024': rule(T(8, 1024), T(4, 1024))}

R = open_bracket()
patched_steps(R, qk, 'one_row_tiles', RULES, quantization='fp8')
close_bracket(R, '05c', 'fp8-row-rules.json', quantization='fp8')
