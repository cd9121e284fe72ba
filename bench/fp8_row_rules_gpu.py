"""Issue 16: FP8 (e4m3) weights at batch 1 take 05c's one-row kernel with int8's tiles. Do the tiles that the
standalone e4m3 sweep preferred (`bench/fp8_one_row_gpu.py`: qkv 4 rows and K 512 at a time, o and down 8 rows and
K 1,024) pay inside llama-3.1-8b's step? Each rule patched into `one_row_tiles` for one engine build, bf16 before
and after as the baseline, in one call.

    python bench/fp8_row_rules_gpu.py   # writes $OUT/fp8-row-rules.json
"""
import json, os, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import bs1_run
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

R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'steps': {}}
R['steps']['bf16'] = bs1_run(); print('bf16', R['steps']['bf16']['step_ms'], flush=True)
orig = qk.one_row_tiles
for name, r in RULES.items():
    if r: qk.one_row_tiles = r
    R['steps'][name] = bs1_run(lambda: setattr(qk, 'one_row_tiles', orig), quantization='fp8')
    print(name, R['steps'][name]['step_ms'], flush=True)
R['steps']['05c again'] = bs1_run(quantization='fp8'); print('05c again', R['steps']['05c again']['step_ms'], flush=True)
R['steps']['bf16 again'] = bs1_run(); print('bf16 again', R['steps']['bf16 again']['step_ms'], flush=True)
bf16 = (R['steps']['bf16']['step_ms'] + R['steps']['bf16 again']['step_ms']) / 2
R['over_bf16'] = {k: bf16 / v['step_ms'] for k, v in R['steps'].items()}
print(json.dumps(R['over_bf16'], indent=1))
Path(os.environ.get('OUT', '/tmp'), 'fp8-row-rules.json').write_text(json.dumps(R, indent=1))
