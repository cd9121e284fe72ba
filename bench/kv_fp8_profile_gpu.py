"""Where an FP8 KV cache's step time goes (issue 16): the qwen3-0.6b nano-vllm workload (64 requests) under the torch
profiler with a bfloat16 and an FP8 cache, CUDA time per kernel name; and the decode attention kernel alone at 256 rows
of 1,024 tokens, timed in a CUDA graph, for each cache dtype. Prints tables; writes $OUT/kv-fp8-profile.json.
"""
import json, os, sys, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM
from nano_serve.bench import random_token_workload, run_offline
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention
from gpu_timing import graph_ms

R = {'gpu': torch.cuda.get_device_name(0), 'date': time.strftime('%Y-%m-%d')}


rows, ctx, kvh, heads, d, bs = 256, 1024, 8, 16, 128, 16
nblk = rows * ctx // bs + 8
meta = AttentionMetadata.build(scattered_block_tables([ctx] * rows, bs, nblk), [ctx - 1] * rows, [ctx] * rows, bs, 'cuda')
q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
    ms = graph_ms([lambda: paged_decode_attention(q, k, v, meta)] * 10)
    R[f'decode_attention_{name}_ms'] = ms
    R[f'decode_attention_{name}_TBps'] = 2 * rows * ctx * kvh * d * k.element_size() / ms / 1e9
    print(name, ms, R[f'decode_attention_{name}_TBps'], flush=True)

from torch.profiler import profile, ProfilerActivity
for kv in (() if '--kernel-only' in sys.argv else ('auto', 'fp8')):
    llm = LLM('qwen3-0.6b', load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192, kv_cache_dtype=kv)
    vocab = llm.core.model.config.vocab_size
    run_offline(llm, random_token_workload(32, 562, 16, 462 / 562, 1, vocab))
    wl = random_token_workload(64, 562, 562, 462 / 562, 0, vocab)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        res = run_offline(llm, wl, warmup=False)
    rows_ = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)[:14]
    total = sum(e.device_time_total for e in prof.key_averages())
    R[f'profile_{kv}'] = {'wall_s': res['seconds'], 'gpu_busy_s': total / 1e6, 'top': [(e.key[:90], round(e.device_time_total / 1e3, 1), e.count) for e in rows_]}
    print(kv, json.dumps(R[f'profile_{kv}'], indent=0), flush=True)
    del llm; torch.cuda.empty_cache()
out = os.environ.get('OUT')
if out: Path(out, 'kv-fp8-kernel.json' if '--kernel-only' in sys.argv else 'kv-fp8-profile.json').write_text(json.dumps(R, indent=1))
