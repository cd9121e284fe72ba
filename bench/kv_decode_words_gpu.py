"""The decode kernel over an e4m3 cache read as 16-bit words (05_kernels, "Words of two e4m3 values"), against an
earlier tree's kernel (`--code`, the baseline, same call) and against bfloat16, plus the widening checked exactly.
Run once per tree, in one call.

The first measurement (`bench/results/kv-decode-words-h200.json`) was made with a copy of the kernel in this script
(commit c60bd03), every tile with and without a register cap, both widenings. What remains now that the kernel ships:
05_kernels' `check_e4m3_words` (every word of two e4m3 values widened both ways, against PyTorch's conversion), then
ms per call of the tree's kernel (this one, or the one at `--code`), qwen3-0.6b's heads, contexts 100-2,047, each call in a CUDA graph.

    python bench/kv_decode_words_gpu.py [--rows 256m,128m,64m,32m] [--code PATH --tag before]
"""
import argparse, json, os, sys, torch
ap = argparse.ArgumentParser()
ap.add_argument('--rows', default='256m,128m,64m,32m'); ap.add_argument('--code', default='.'); ap.add_argument('--tag', default='this')
A = ap.parse_args()
sys.path.insert(0, 'bench'); sys.path.insert(0, os.path.abspath(A.code))
import nano_serve.kernels as K
from gpu_timing import graph_ms, decode_problem


res = {'gpu': torch.cuda.get_device_name(0), 'tree': A.tag, 'exact': {}, 'runs': []}
if hasattr(K, 'check_e4m3_words'):   # the tree before the words has no widening to check
    res['exact'] = K.check_e4m3_words('cuda'); print(res['exact'], flush=True)

kvh, heads, d, bs = 8, 16, 128, 16
for spec in A.rows.split(','):
    rows, mix = int(spec[:-1]), spec[-1] == 'm'
    lens, meta, q, kb, vb = decode_problem(rows, mix, kvh, heads, d, bs)
    k8, v8 = kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn)
    for name, k, v, byts in (('bf16', kb, vb, 2), ('e4m3', k8, v8, 1)):
        ms = graph_ms([lambda: K.paged_decode_attention(q, k, v, meta)] * 10)
        r = dict(rows=rows, contexts='100-2047' if mix else '1024', kind=name, ms=round(ms, 4), TBps=round(2 * sum(lens) * kvh * d * byts / ms / 1e9, 2))
        res['runs'].append(r); print(A.tag, json.dumps(r), flush=True)
open(os.path.join(os.environ.get('OUT', '/tmp'), f'kv-decode-words-{A.tag}.json'), 'w').write(json.dumps(res, indent=1))
