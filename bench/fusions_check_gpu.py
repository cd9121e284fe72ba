"""GPU check of the batch-1 kernels: q/k norm + rotary in one kernel, and `SmallBatchLinear`, against PyTorch.

    python bench/fusions_check_gpu.py [--out DIR]

bfloat16 inputs of qwen3-0.6b's and llama-3.1-8b's shapes; errors against the float32 result of the same inputs,
beside PyTorch's own bfloat16 version's, so that the kernels are seen to round no worse.
"""
import argparse, json, os, sys
from pathlib import Path
import torch, torch.nn as nn
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.model import norm_rotary_qk
from nano_serve.kernels import norm_rotary_qk_triton
from nano_serve.quant_kernels import SmallBatchLinear

p = argparse.ArgumentParser(); p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); a = p.parse_args()
torch.manual_seed(0)
dev, bf, res = 'cuda', torch.bfloat16, {'gpu': torch.cuda.get_device_name(0), 'qk': {}, 'linear': {}}
for name, (hq, hk, d, norm) in {'qwen3-0.6b': (16, 8, 128, True), 'llama-3.1-8b': (32, 8, 128, False)}.items():
    for T in (1, 7, 300):
        qkv = torch.randn(T, (hq + 2 * hk) * d, device=dev, dtype=bf)
        q, k = qkv[:, :hq * d].view(T, hq, d), qkv[:, hq * d:(hq + hk) * d].view(T, hk, d)
        ang = torch.rand(T, 1, d // 2, device=dev) * 6
        cs = (ang.cos().to(bf), ang.sin().to(bf))
        w = [torch.rand(d, device=dev, dtype=bf) + 0.5 for _ in range(2)] if norm else [None, None]
        ref = norm_rotary_qk(q.float(), k.float(), tuple(c.float() for c in cs), *[x.float() if norm else None for x in w])
        mine, theirs = norm_rotary_qk_triton(q, k, cs, *w), norm_rotary_qk(q, k, cs, *w)
        e = lambda out: max(((o.float() - r).abs().max() / r.abs().max()).item() for o, r in zip(out, ref))
        res['qk'][f'{name} T={T}'] = {'triton': e(mine), 'torch_bf16': e(theirs)}
for n, k in [(4096, 1024), (1024, 2048), (6144, 1024), (1024, 3072), (14336 * 2, 4096)]:
    lin = nn.Linear(k, n, bias=False, device=dev, dtype=bf)
    small = SmallBatchLinear(lin)
    for rows in (1, 3, 8):
        x = torch.randn(rows, k, device=dev, dtype=bf)
        ref = x.float() @ lin.weight.float().t()
        with torch.no_grad():
            res['linear'][f'{n}x{k} rows={rows}'] = {'triton': ((small(x).float() - ref).abs().max() / ref.abs().max()).item(),
                                                     'cublas': ((lin(x).float() - ref).abs().max() / ref.abs().max()).item()}
print(json.dumps(res, indent=1))
worst = max(v['triton'] / max(v['torch_bf16'], v.get('cublas', 0), 1e-9) for v in res['qk'].values())
print('qk worst ratio to torch bf16', worst)
Path(a.out).mkdir(parents=True, exist_ok=True); (Path(a.out) / 'fusions-check.json').write_text(json.dumps(res, indent=1))
