"""Issue 16 on the GPU, in one run: the quantized layers against bf16,
llama-3.1-8b batch-1 decode per weight format (the int8 tile sweep is bench/int8_variants_gpu.py), and the qwen3-0.6b nano-vllm workload with a bf16 and an FP8 KV cache, and the same workload per weight format (`workload`).
Random weights of the real shapes (load_format='dummy'), bf16 activations; every baseline rerun in the same call.

    python bench/quant_gpu.py [kernels] [decode] [kv] [workload] [--formats bf16,int8,...] [--caches auto,fp8,...] [--workload-formats bf16,int4,...]
    # writes $OUT and bench/results/quant-gpu-<gpu>-<parts>.json; the formats and caches default to all, bf16 first and last
"""
import gc, json, os, sys, time, traceback
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM
from nano_serve.bench import random_token_workload, run_offline, machine
sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import bs1_step

import argparse
ap = argparse.ArgumentParser()
ap.add_argument('parts', nargs='*', default=['kernels', 'decode', 'kv'])
ap.add_argument('--formats', default='bf16,int8,int4,fp8,bf16', help='weight formats of the decode part, in order')
ap.add_argument('--caches', default='auto,fp8,auto', help='KV cache dtypes of the kv part, in order')
ap.add_argument('--workload-formats', default='bf16,int4,bf16', help='weight formats of the workload part, in order')
A = ap.parse_args()
PARTS = A.parts
R = {'machine': machine(), 'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d')}


def log(key, value): print(f'{key}: {value}', flush=True)


def section(name, part):
    "Run a section of a requested part, recording its result or its error, so one failure does not lose the others."
    def wrap(fn):
        if part not in PARTS: return
        t0 = time.perf_counter()
        try: R[name] = fn()
        except Exception as e: traceback.print_exc(); R[name] = {'error': repr(e)[:800]}
        log(name, json.dumps(R[name])[:1500]); log(f'{name}.seconds', round(time.perf_counter() - t0, 1))
        gc.collect(); torch.cuda.empty_cache()
    return wrap


def bench_ms(fn, n=50):
    "Median milliseconds of `fn` over `n` CUDA-event-timed calls, after warm-up."
    for _ in range(5): fn()
    times = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); times.append(a.elapsed_time(b))
    return sorted(times)[n // 2]


@section('hbm', 'kernels')
def _():
    x = torch.empty(2 * 1024**3, dtype=torch.uint8, device='cuda'); y = torch.empty_like(x)
    return {'copy_TBps': 2 * x.numel() / (bench_ms(lambda: y.copy_(x), 10) / 1e3) / 1e12}


@section('layers', 'kernels')
def _():
    "Each quantized layer against bf16 on one random layer, relative max error; the 05c kernels on bf16 inputs."
    from nano_serve.quantization import Int8WeightLinear, Int4Linear, Fp8Linear, int8_rows
    from nano_serve.quant_kernels import weight_only_mm as int8_weight_mm, fp8_rows
    torch.manual_seed(0)
    out = {}
    for k, n, m in [(4096, 6144, m) for m in (1, 7, 64, 300)] + [(14336, 4096, m) for m in (1, 16)]:   # the MLP's down: K in two slices
        lin = torch.nn.Linear(k, n, bias=False).cuda().bfloat16()
        x = torch.randn(m, k, device='cuda', dtype=torch.bfloat16)
        ref, key = lin(x).float(), f'{k}->{n} m={m}'
        for cls in (Int8WeightLinear, Int4Linear, Fp8Linear):
            out[f'{cls.__name__} {key}'] = ((cls(lin)(x).float() - ref).abs().max() / ref.abs().max()).item()
        q, s = int8_rows(lin.weight)
        exact = x.float() @ (q.float() * s[:, None]).t()
        out[f'int8_weight_mm vs widened {key}'] = ((int8_weight_mm(x, q, s).float() - exact).abs().max() / exact.abs().max()).item()
    qx, a = fp8_rows(torch.randn(8, 4096, device='cuda', dtype=torch.bfloat16) * 100)
    out['fp8_rows max'] = qx.float().abs().max().item()
    return out


def decode_bs1(model, prompt_len=128, new=256, **kw):
    "Batch-1 decode speed after a warm-up; bytes a step reads (weights + half the K/V) over the copy bandwidth."
    from nano_serve.quantization import weight_bytes
    llm = LLM(model, load_format='dummy', max_num_seqs=1, max_num_batched_tokens=512, **kw)
    step, _ = bs1_step(llm, prompt_len, new)
    wb = weight_bytes(llm.core.model)
    cfg = llm.core.model.config
    kv_tok = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * (getattr(cfg, 'head_dim', None) or cfg.hidden_size // cfg.num_attention_heads) * llm.core.cache.data.element_size()
    b = wb + kv_tok * (prompt_len + new / 2)
    res = {'tok_s': 1 / step, 'step_ms': step * 1e3, 'weight_GB': wb / 1e9, 'mbu': b / step / (R['hbm']['copy_TBps'] * 1e12),
           'paths': {k: v for k, v in llm.core.paths().items() if k in ('linear', 'kv_cache', 'cuda_graphs')}}
    del llm; gc.collect(); torch.cuda.empty_cache()
    return res


@section('decode_bs1_8b', 'decode')
def _():
    if 'hbm' not in R: R['hbm'] = {'copy_TBps': 4.0}
    out = {}
    for f in A.formats.split(','):   # bf16 first and last: the drift between them is the noise
        q = None if f == 'bf16' else f
        key = f if f not in out else f + ' again'
        try: out[key] = decode_bs1('llama-3.1-8b', quantization=q)
        except Exception as e: traceback.print_exc(); out[key] = {'error': repr(e)[:500]}
        log(key, json.dumps(out[key]))
    if 'bf16' not in out: return out
    base = (out['bf16'].get('tok_s', 0) + out.get('bf16 again', out['bf16']).get('tok_s', 0)) / 2
    out['speedup_vs_bf16'] = {k: v['tok_s'] / base for k, v in out.items() if isinstance(v, dict) and 'tok_s' in v}
    return out


def throughput(kv, n=256, quantization=None):
    "nano-vllm's workload (256 requests, 100-1024 tokens in and out) on the qwen3-0.6b shape."
    llm = LLM('qwen3-0.6b', load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192, kv_cache_dtype=kv, quantization=quantization)
    vocab = llm.core.model.config.vocab_size
    run_offline(llm, random_token_workload(32, 562, 16, 462 / 562, 1, vocab))    # warm-up
    res = run_offline(llm, random_token_workload(n, 562, 562, 462 / 562, 0, vocab), warmup=False)
    res.update(kv_cache=kv, quantization=quantization, kv_blocks=llm.core.allocator.num_blocks, preemptions=llm.stats()['num_preemptions'],
               mean_forward_ms=llm.stats()['mean_forward_ms'])
    del llm; gc.collect(); torch.cuda.empty_cache()
    return res


@section('kv_fp8_qwen3', 'kv')
def _():
    out = {}   # (correctness of the FP8 cache paths: bench/kv_cache_check_gpu.py)
    for kv in A.caches.split(','):
        key = kv if kv not in out else kv + ' again'
        out[key] = throughput(kv)
        log(key, json.dumps(out[key]))
    if 'auto' not in out or 'fp8' not in out: return out
    base = (out['auto']['output_tok_s'] + out.get('auto again', out['auto'])['output_tok_s']) / 2
    out['fp8_speedup'] = out['fp8']['output_tok_s'] / base
    return out


@section('workload_qwen3', 'workload')
def _():
    "The same workload per weight format (bfloat16 cache): where int4's products of many rows show."
    out = {}
    for f in A.workload_formats.split(','):
        key = f if f not in out else f + ' again'
        out[key] = throughput('auto', quantization=None if f == 'bf16' else f)
        log(key, json.dumps(out[key]))
    return out


print(json.dumps(R, indent=1))
tag = R['gpu'].split()[-1].lower()
for d in [os.environ.get('OUT'), str(Path(__file__).parent / 'results')]:
    if d: Path(d).mkdir(parents=True, exist_ok=True); Path(d, f"quant-gpu-{tag}-{'-'.join(PARTS)}.json").write_text(json.dumps(R, indent=1))
