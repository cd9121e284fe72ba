"""The qwen3-0.6b nano-vllm workload (256 requests, 100-1,024 tokens in and out, dummy weights) per KV cache dtype and
per order of the decode kernel's work (05_kernels, "Longest first"): output tokens/s twice, then once under the
profiler for the decode kernel's summed GPU time. Each variant builds its own engine (the CUDA graphs are captured
with the tiles of their time). `--code PATH` imports an earlier tree's nano_serve (the baseline, same call).

    python bench/kv_order_workload_gpu.py [--caches auto,fp8] [--variants default,hf+lf] [--code PATH] [--tag NAME]
"""
import argparse, json, os, sys
from pathlib import Path
import torch
ap = argparse.ArgumentParser()
ap.add_argument('--caches', default='auto,fp8'); ap.add_argument('--variants', default='default')
ap.add_argument('--code', default=None); ap.add_argument('--tag', default='this')
A = ap.parse_args()
sys.path.insert(0, str(Path(A.code).resolve() if A.code else Path(__file__).resolve().parent.parent))
import nano_serve.kernels as K
from nano_serve.engine import LLM
from nano_serve.bench import random_token_workload, run_offline
default_tiles = K.decode_tiles
KNOBS = {'hf': 'heads_first', 'lf': 'longest_first'}


def variant_tiles(name: str):
    "A `decode_tiles` with the knobs named in `name` ('default', 'hf', 'lf', 'hf+lf', 'none') switched on."
    on = set() if name in ('default', 'none') else {KNOBS[k] for k in name.split('+')}
    def tiles(dt, *a):
        t = default_tiles(dt, *a)
        if name == 'default': return t
        return {**t, **{k: k in on for k in KNOBS.values() if k in t}}
    return tiles


res = {'gpu': torch.cuda.get_device_name(0), 'tree': A.tag}
for cache in A.caches.split(','):
    for var in A.variants.split(','):
        K.decode_tiles = variant_tiles(var)
        llm = LLM('qwen3-0.6b', load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192, kv_cache_dtype=cache)
        vocab = llm.core.model.config.vocab_size
        run_offline(llm, random_token_workload(32, 562, 16, 462 / 562, 1, vocab))   # warm-up
        wl = random_token_workload(256, 562, 562, 462 / 562, 0, vocab)
        runs = [round(run_offline(llm, wl, warmup=False)['output_tok_s']) for _ in range(2)]
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as prof: run_offline(llm, wl, warmup=False)
        ev = prof.key_averages()
        dec = sum(e.self_device_time_total for e in ev if e.key.startswith('_decode')) / 1e6
        tot = sum(e.self_device_time_total for e in ev) / 1e6
        r = dict(output_tok_s=runs, decode_kernels_s=round(dec, 3), all_kernels_s=round(tot, 3), tiles=K.decode_tiles(torch.bfloat16 if cache == 'auto' else torch.float8_e4m3fn))
        res[f'{cache} {var}'] = r; print(A.tag, cache, var, json.dumps(r), flush=True)
        del llm; torch.cuda.empty_cache()
Path(os.environ.get('OUT', '/tmp'), f'kv-order-workload-{A.tag}-{A.caches}-{A.variants.replace("+", "_")}.json').write_text(json.dumps(res, indent=1))
