"""Issue 16: does inductor (torch.compile) write a faster one-row int8 product than 05c's Triton kernel?

gpt-fast's int8 path is `F.linear(x, w.to(x.dtype)) * s` under torch.compile: at one row inductor can turn the product
into a multiply and a sum over K, with the widening fused into the same reduction. Timed like the other int8 benches
(a CUDA graph over 600 MB of weight copies), against 05c's `weight_only_mm`, on llama-3.1-8b's matrices.

    python bench/int8_inductor_gpu.py [kernels] [source] [decode]   # writes $OUT/int8-inductor.json and bench/results/int8-inductor-h200.json

`source` prints the Triton kernels inductor wrote for o's product; `decode` times llama-3.1-8b batch-1 decode with the
one-row products swapped for the compiled form (int8, and bf16 likewise), every baseline in the same run.
"""
import glob, json, os, sys, time, traceback
from pathlib import Path
import torch
import torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B, int8_copies, rel_err, bs1_run
from nano_serve.quant_kernels import weight_only_mm

torch._inductor.config.coordinate_descent_tuning = True


def linear_form(x, w, s): return F.linear(x, w.to(x.dtype)) * s
def sum_form(x, w, s): return ((x.float()[:, None, :] * w.to(x.dtype)[None].float()).sum(-1) * s).to(x.dtype)
def sum_bf16_form(x, w, s): return ((x[:, None, :] * w.to(x.dtype)[None]).sum(-1, dtype=torch.float32) * s).to(x.dtype)


FORMS = {'linear': torch.compile(linear_form, dynamic=False), 'sum': torch.compile(sum_form, dynamic=False),
         'sum_bf16': torch.compile(sum_bf16_form, dynamic=False),
         'linear max-autotune': torch.compile(linear_form, dynamic=False, mode='max-autotune-no-cudagraphs')}
PARTS = sys.argv[1:] or ['kernels']
R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'us': {}}
for name in ('o', 'qkv', 'down', 'gate_up') if 'kernels' in PARTS else ():
    n, k = LLAMA_8B[name]
    ws = int8_copies(n, k, 600)
    s = torch.rand(n, device='cuda') / 100
    x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16)
    want = x.float() @ (ws[0].float() * s[:, None]).t()
    res = {'05c': graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3, 'MB': n * k / 1e6}
    for form, fn in FORMS.items():
        try:
            t0 = time.perf_counter(); err = rel_err(fn(x, ws[0], s), want); comp = time.perf_counter() - t0
            res[form] = {'us': graph_ms([lambda w=w: fn(x, w, s) for w in ws]) * 1e3, 'rel_err': err, 'compile_s': round(comp, 1)}
        except Exception as e: traceback.print_exc(); res[form] = {'error': repr(e)[:300]}
    R['us'][name] = res
    print(name, json.dumps(res), flush=True)
    del ws; torch.cuda.empty_cache()


def inductor_source():
    "The generated Triton kernels that mention o's shape, from inductor's cache, with their chosen configs."
    x, w, s = torch.randn(1, 4096, device='cuda', dtype=torch.bfloat16), int8_copies(4096, 4096, 1)[0], torch.rand(4096, device='cuda')
    FORMS['sum_bf16'](x, w, s)
    root = os.environ.get('TORCHINDUCTOR_CACHE_DIR') or f"/tmp/torchinductor_{os.environ.get('USER', 'root')}"
    found = []
    for f in glob.glob(f'{root}/**/*.py', recursive=True) + glob.glob(f'{root}/**/*.best_config', recursive=True):
        text = open(f).read()
        if f.endswith('.best_config') or ('@triton.jit' in text and 'reduction' in text): found.append((os.path.getmtime(f), f, text))
    if os.environ.get('OUT'):
        Path(os.environ['OUT'], 'inductor-source.txt').write_text(''.join(f'===== {f}\n{text}\n' for _, f, text in sorted(found)[-12:]))
    return [f for _, f, _ in sorted(found)[-12:]]


def one_row_patch(limit: int):
    "Products of one row by the compiled sum form (outputs <= `limit`), int8 and bf16 layers alike; returns an undo."
    from nano_serve.quantization import Int8WeightLinear
    from nano_serve.quant_kernels import SmallBatchLinear
    i8, b16 = Int8WeightLinear.forward, SmallBatchLinear.forward
    ones = torch.compile(lambda x, w: (x[:, None, :] * w[None]).sum(-1, dtype=torch.float32).to(x.dtype), dynamic=False)
    def int8_forward(self, x):
        x2 = x.reshape(-1, self.in_features)
        if x2.shape[0] != 1 or self.out_features > limit or self.bias is not None: return i8(self, x)
        return FORMS['sum_bf16'](x2, self.qweight, self.scale).reshape(*x.shape[:-1], self.out_features)
    def bf16_forward(self, x):
        x2 = x.reshape(-1, self.in_features)
        if x2.shape[0] != 1 or self.out_features > limit or self.bias is not None: return b16(self, x)
        return ones(x2, self.weight).reshape(*x.shape[:-1], self.out_features)
    Int8WeightLinear.forward, SmallBatchLinear.forward = int8_forward, bf16_forward
    def undo(): Int8WeightLinear.forward, SmallBatchLinear.forward = i8, b16
    return undo


if 'source' in PARTS:
    try: R['source_files'] = inductor_source()
    except Exception: traceback.print_exc()
if 'decode' in PARTS:
    R['decode_bs1_8b'] = out = {}
    for key, q, limit in [('bf16', None, 0), ('int8', 'int8', 0), ('int8 one-row compiled', 'int8', 8192), ('int8 one-row compiled, all', 'int8', 10**6),
                          ('bf16 one-row compiled', None, 8192), ('bf16 again', None, 0), ('int8 again', 'int8', 0)]:
        t0 = time.perf_counter()
        try: out[key] = bs1_run(one_row_patch(limit), quantization=q)   # llama-3.1-8b; one-row products of <= `limit` outputs compiled
        except Exception as e: traceback.print_exc(); out[key] = {'error': repr(e)[:500]}
        out[key]['seconds'] = round(time.perf_counter() - t0, 1)
        print(key, json.dumps(out[key]), flush=True)
    base = [out[k]['tok_s'] for k in ('bf16', 'bf16 again') if 'tok_s' in out.get(k, {})]
    if base: out['speedup_vs_bf16'] = {k: v['tok_s'] / (sum(base) / len(base)) for k, v in out.items() if isinstance(v, dict) and 'tok_s' in v}
    print('speedup', json.dumps(out.get('speedup_vs_bf16')), flush=True)
text = json.dumps(R, indent=1)
if os.environ.get('OUT'): Path(os.environ['OUT'], 'int8-inductor.json').write_text(text)
Path(__file__).resolve().parent.joinpath('results', f"int8-inductor-h200{'-' + '-'.join(PARTS) if PARTS != ['kernels'] else ''}.json").write_text(text)
