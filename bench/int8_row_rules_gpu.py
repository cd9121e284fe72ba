"""Issue 16: which tiles should 05c's `int8_row_mm` take *inside* llama-3.1-8b's batch-1 step? Kernels run faster in the
step than alone, and not by the same amount each (05c), so the standalone sweep's rule is checked in the engine: each
rule below patched into `int8_row_tiles` for one engine build, the bf16 step before and after as the baseline.

    python bench/int8_row_rules_gpu.py        # writes $OUT/int8-row-rules.json
    python bench/int8_row_rules_gpu.py word   # other rules, for the kernel with a scale a word; $OUT/int8-row-rules-word.json
"""
import json, os, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import bs1_run
import nano_serve.quant_kernels as qk

T = lambda rows, block, warps: dict(ROWS=rows, BLOCK=block, num_warps=warps, num_stages=2)
WIDE = 16384   # outputs from which a matrix counts as wide (gate/up, the head), as in `int8_row_tiles`
RULES = {'05c': None,
         'rows16 block128 w4, all': lambda n: T(16, 128, 4),
         'narrow rows16 block256 w8': lambda n: T(16, 128, 4) if n >= WIDE else T(16, 256, 8),
         'rows8 block256 w4, all': lambda n: T(8, 256, 4),
         'wide rows8 block128 w4': lambda n: T(8, 128, 4) if n >= WIDE else T(8, 256, 4),
         'wide rows32 block128 w8': lambda n: T(32, 128, 8) if n >= WIDE else T(8, 256, 4)}
WORD = sys.argv[1:] == ['word']
if WORD:   # each word of the row at its own scale: more arithmetic a word, no pass before the weights
    RULES = {'05c': None,
             'narrow rows16 block256 w8': lambda n: T(16, 128, 4) if n >= WIDE else T(16, 256, 8),
             'narrow rows16 block128 w4': lambda n: T(16, 128, 4) if n >= WIDE else T(16, 128, 4),
             'narrow rows4 block256 w4': lambda n: T(16, 128, 4) if n >= WIDE else T(4, 256, 4),
             'narrow rows8 block128 w4': lambda n: T(16, 128, 4) if n >= WIDE else T(8, 128, 4),
             'wide rows8 block256 w4': lambda n: T(8, 256, 4) if n >= WIDE else T(8, 256, 4),
             'wide rows32 block128 w8': lambda n: T(32, 128, 8) if n >= WIDE else T(8, 256, 4)}

R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'steps': {}}
R['steps']['bf16'] = bs1_run()
print('bf16', R['steps']['bf16']['step_ms'], flush=True)
for name, rule in RULES.items():
    orig = qk.int8_row_tiles
    if rule: qk.int8_row_tiles = rule
    R['steps'][name] = bs1_run(lambda: setattr(qk, 'int8_row_tiles', orig), quantization='int8')
    print(name, R['steps'][name]['step_ms'], flush=True)
R['steps']['bf16 again'] = bs1_run()
bf16 = (R['steps']['bf16']['step_ms'] + R['steps']['bf16 again']['step_ms']) / 2
R['over_bf16'] = {k: bf16 / v['step_ms'] for k, v in R['steps'].items()}
print(json.dumps(R['over_bf16'], indent=1))
Path(os.environ.get('OUT', '/tmp'), 'int8-row-rules-word.json' if WORD else 'int8-row-rules.json').write_text(json.dumps(R, indent=1))
