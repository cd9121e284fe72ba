"""How much of an offline run does the GPU spend idle, waiting for the host? And where does the host's time go?

    python bench/gpu_idle.py [--model qwen3-0.6b] [--num 256] [--out DIR] [--code PATH] [--tag NAME] [--quantization int8]
                             [--kv-cache-dtype fp8] [--no-cprofile] [--no-bs1]

The nano-vllm workload (256 requests, input and output lengths uniform in [100, 1024]) offline, three times:
  1. plain, timed: output tokens/s;
  2. under the torch profiler (kernels only, CUPTI): busy = the kernels' summed time over the wall time (one stream,
     so kernels never overlap), idle = the rest; and the per-step host time split the engine records itself;
  3. under cProfile: the host functions that cost most (they are what keeps the GPU waiting).
  4. busy by batch size: the same run with one tiny marker kernel (`torch.cuda._sleep`) launched before each step, so
     that the kernels' timeline splits into steps; a step's window runs from its marker to the next one (its idle
     tail included), and busy = the kernels' (merged) time in the windows of steps with >= 64, 16-63, 1-15 requests
     over those windows' length. The issue's goal, idle < 10% at batch >= 64, is the first bucket.
Then batch-1 decode: a step of the engine against a bare CUDA-graph replay of the same shape, and the kernels of
one replay (how many, the costliest).
`--code PATH` imports nano_serve from PATH instead (an earlier commit's package, to rerun the baseline in the same call).
"""
import argparse, bisect, cProfile, io, json, os, pstats, sys, time
from pathlib import Path

import torch
ap = argparse.ArgumentParser()
ap.add_argument('--model', default='qwen3-0.6b'); ap.add_argument('--num', type=int, default=256)
ap.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); ap.add_argument('--no-cprofile', action='store_true')
ap.add_argument('--plain', action='store_true', help='no overlapped scheduling (the engine before issue 12)')
ap.add_argument('--code', default=None, help='import nano_serve from this folder (e.g. an earlier commit)')
ap.add_argument('--tag', default='', help='added to the output files\' names')
ap.add_argument('--only-bs1', action='store_true', help='batch-1 decode only (no workload runs)')
ap.add_argument('--max-num-seqs', type=int, default=256)
ap.add_argument('--quantization', default=None, help="the weights' format (05b), e.g. int8")
ap.add_argument('--kv-cache-dtype', default='auto', help="the cache's dtype: auto (the model's) or fp8")
ap.add_argument('--no-bs1', action='store_true', help='skip the batch-1 part')
A = ap.parse_args()
sys.path.insert(0, str(Path(A.code).resolve() if A.code else Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.bench import random_token_workload, run_offline


def workload(llm, num, seed=0): return random_token_workload(num, 562, 562, 462 / 562, seed, llm.core.model.config.vocab_size)


def profiled_busy(llm, wl) -> dict:
    "Run `wl` under the torch profiler (CUDA kernels only); GPU busy and idle fractions of the wall time."
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        torch.cuda.synchronize(); t0 = time.perf_counter()
        res = run_offline(llm, wl, warmup=False)
        torch.cuda.synchronize(); wall = time.perf_counter() - t0
    kernel_s = sum(e.self_device_time_total for e in prof.key_averages()) / 1e6
    top = sorted(prof.key_averages(), key=lambda e: -e.self_device_time_total)[:12]
    return dict(wall_s=wall, kernel_s=kernel_s, busy=kernel_s / wall, idle=1 - kernel_s / wall, output_tok_s=res['output_tok_s'],
                top_kernels=[(e.key[:80], round(e.self_device_time_total / 1e6, 3), e.count) for e in top])


def merged(intervals: list) -> list:
    "Sorted, non-overlapping union of (start, end) intervals."
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]: out[-1][1] = max(out[-1][1], e)
        else: out.append([s, e])
    return out


def busy_by_batch(llm, wl) -> dict:
    "GPU busy fraction over the steps of each batch-size bucket (a marker kernel before each step splits the timeline)."
    from torch.profiler import profile, ProfilerActivity
    from torch.autograd import DeviceType
    runner, sizes = llm.core.runner, []
    orig = runner.forward
    def marked(batch, *a, **k):
        torch.cuda._sleep(1); sizes.append(len(batch.chunks))
        return orig(batch, *a, **k)
    runner.forward = marked
    try:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            res = run_offline(llm, wl, warmup=False); torch.cuda.synchronize()
    finally: del runner.forward
    ev = sorted((e.start_ns(), e.start_ns() + e.duration_ns(), e.name()) for e in prof.profiler.kineto_results.events()
                if e.device_type() == DeviceType.CUDA)
    marks = [s for s, _, n in ev if 'spin' in n]
    if len(marks) != len(sizes): return {'error': f'{len(marks)} markers for {len(sizes)} steps'}
    busy = merged([(s, e) for s, e, n in ev if 'spin' not in n])
    ends = marks[1:] + [max(e for _, e, _ in ev)]
    starts_b = [s for s, _ in busy]
    buckets = {'>=64': lambda n: n >= 64, '16-63': lambda n: 16 <= n < 64, '1-15': lambda n: n < 16, 'all': lambda n: True}
    out = {k: [0, 0.0, 0.0] for k in buckets}   # steps, window ns, busy ns
    for a, b, n in zip(marks, ends, sizes):
        i, t = max(bisect.bisect_right(starts_b, a) - 1, 0), 0.0
        while i < len(busy) and busy[i][0] < b:
            t += max(0, min(b, busy[i][1]) - max(a, busy[i][0])); i += 1
        for k, f in buckets.items():
            if f(n): out[k][0] += 1; out[k][1] += b - a; out[k][2] += t
    return {'output_tok_s': res['output_tok_s'],
            'buckets': {k: dict(steps=s, seconds=w / 1e9, busy=t / w if w else None, mean_step_ms=w / s / 1e6 if s else None)
                        for k, (s, w, t) in out.items()}}


def bs1_kernels(llm, replays=20) -> dict:
    "The kernels of one replay of the batch-1 decode graph: how many, their summed time, the costliest."
    from torch.profiler import profile, ProfilerActivity
    g, _ = llm.core.runner.graphs.graphs[1]
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(replays): g.replay()
        torch.cuda.synchronize()
    ka = prof.key_averages()
    top = sorted(ka, key=lambda e: -e.self_device_time_total)[:15]
    return dict(kernels_per_replay=sum(e.count for e in ka) / replays, kernel_ms_per_replay=sum(e.self_device_time_total for e in ka) / replays / 1e3,
                top=[(e.key[:90], round(e.self_device_time_total / replays, 1), e.count // replays) for e in top])


def host_profile(llm, wl, n=30) -> str:
    "cProfile of one run: the top host functions by own time."
    pr = cProfile.Profile(); pr.enable()
    run_offline(llm, wl, warmup=False)
    pr.disable()
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats('tottime').print_stats(n)
    return s.getvalue()


def bs1_step(llm, steps=200) -> dict:
    "Batch-1 decode: mean engine step (ms) against a bare replay of the batch-1 CUDA graph."
    llm.add_request(list(range(100, 228)), SamplingParams(temperature=0, max_tokens=steps + 20, ignore_eos=True))
    for _ in range(10): llm.step()
    torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(steps): llm.step()
    torch.cuda.synchronize(); step_ms = (time.perf_counter() - t0) / steps * 1e3
    for r in list(llm.core.scheduler.running): llm.abort(r.request_id)
    while llm.has_unfinished(): llm.step()
    g, _ = llm.core.runner.graphs.graphs[1]
    torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(steps): g.replay()
    torch.cuda.synchronize()
    return dict(step_ms=step_ms, replay_ms=(time.perf_counter() - t0) / steps * 1e3)


def main():
    a = A
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    name = f'{a.model}{"_plain" if a.plain else ""}{"_" + a.tag if a.tag else ""}'
    llm = LLM(a.model, load_format='dummy', max_num_seqs=a.max_num_seqs, max_num_batched_tokens=8192, async_scheduling=not a.plain,
              kv_cache_dtype=a.kv_cache_dtype, **({'quantization': a.quantization} if a.quantization else {}))
    run_offline(llm, random_token_workload(32, 562, 16, 462 / 562, 1, llm.core.model.config.vocab_size))   # warm-up: compile, capture
    res = {'gpu': torch.cuda.get_device_name(0), 'model': a.model, 'quantization': a.quantization, 'num': a.num, 'kv_cache_dtype': a.kv_cache_dtype, 'async_scheduling': not a.plain, 'code': a.code or 'this'}
    if hasattr(llm.core, 'paths'): res['linear'] = llm.core.paths()['linear']
    if a.only_bs1:
        res['bs1'] = bs1_step(llm); res['bs1']['graph'] = bs1_kernels(llm)
        print('bs1', json.dumps(res['bs1']), flush=True)
        return (out / f'gpu_idle_{name}.json').write_text(json.dumps(res, indent=1))
    res['timed'] = run_offline(llm, workload(llm, a.num), warmup=False)
    st = llm.stats()
    res['timed'].update({k: st[k] for k in ('num_steps', 'mean_schedule_ms', 'mean_forward_ms', 'mean_sample_ms')})
    print('timed', json.dumps(res['timed']), flush=True)
    res['profiled'] = profiled_busy(llm, workload(llm, a.num, 1))
    print('profiled', json.dumps(res['profiled']), flush=True)
    res['by_batch'] = busy_by_batch(llm, workload(llm, a.num, 1))
    print('by_batch', json.dumps(res['by_batch']), flush=True)
    if not a.no_cprofile:
        text = host_profile(llm, workload(llm, a.num, 2))
        (out / f'host_profile_{name}.txt').write_text(text)
        print(text[:6000], flush=True)
    if a.no_bs1: return (out / f'gpu_idle_{name}.json').write_text(json.dumps(res, indent=1))
    res['bs1'] = bs1_step(llm)
    res['bs1']['graph'] = bs1_kernels(llm)
    print('bs1', json.dumps(res['bs1']), flush=True)
    (out / f'gpu_idle_{name}.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
