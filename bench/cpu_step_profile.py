"""Issue 13: where a compiled CPU decode step's time goes, by op (torch profiler, inductor's kernels named).
`rows` requests of `context` token ids decode together; the median step, then each op's self time a step.

    python bench/cpu_step_profile.py [--code TREE] [--rows 16] [--context 300] [--quantization int8] [--spread]

`--spread`: contexts spread evenly from `context` down to an eighth of it, longest (oldest) first, as in a server's batch.
"""
import argparse, collections, sys, time
ap = argparse.ArgumentParser()
ap.add_argument('--code', default=None, help="a tree of nano_serve to profile instead of this repository's")
ap.add_argument('--rows', type=int, default=16)
ap.add_argument('--context', type=int, default=300)
ap.add_argument('--quantization', default=None)
ap.add_argument('--spread', action='store_true')
A = ap.parse_args()
if A.code: sys.path.insert(0, A.code)
import torch._inductor.config as ic
ic.cpp.enable_kernel_profile = True   # each generated C++ kernel shows up in the profile under its graph's name
import nano_serve
from nano_serve.engine import LLM, SamplingParams
from torch.profiler import profile, ProfilerActivity

t0 = time.time()
llm = LLM(max_num_seqs=max(16, A.rows), cpu_compile=True, quantization=A.quantization)
print(nano_serve.__file__, f'built in {time.time() - t0:.0f} s', flush=True)
p = SamplingParams(temperature=0, max_tokens=1000, ignore_eos=True)
lens = [A.context - (A.context - A.context // 8) * i // max(1, A.rows - 1) if A.spread else A.context for i in range(A.rows)]
for i, n in enumerate(lens): llm.add_request(list(range(100 + i, 100 + n + i)), p)
for _ in range(5): llm.step()   # the prompts, then the first decode steps
ts = []
for _ in range(30):
    t = time.perf_counter(); llm.step(); ts.append(time.perf_counter() - t)
ts.sort()
print(f'{A.rows} rows at ~{A.context if not A.spread else f"{min(lens)}-{max(lens)}"} tokens: median step {ts[15] * 1e3:.1f} ms, fastest {ts[0] * 1e3:.1f}')
N = 10
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(N): llm.step()
agg = collections.Counter()
for e in prof.key_averages():
    k = e.key
    k = 'inductor kernels, softmax' if 'softmax' in k else 'inductor kernels, norms/adds' if 'rsqrt' in k or 'pow' in k else \
        'inductor kernels, other' if k.startswith('graph_') else k
    agg[k] += e.self_cpu_time_total / 1e3 / N
for k, v in agg.most_common(12): print(f'{v:8.2f} ms  {k[:90]}')
