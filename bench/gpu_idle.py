"""How much of an offline run does the GPU spend idle, waiting for the host? And where does the host's time go?

    python bench/gpu_idle.py [--model qwen3-0.6b] [--num 256] [--out DIR]

The nano-vllm workload (256 requests, input and output lengths uniform in [100, 1024]) offline, three times:
  1. plain, timed: output tokens/s;
  2. under the torch profiler (kernels only, CUPTI): busy = the kernels' summed time over the wall time (one stream,
     so kernels never overlap), idle = the rest; and the per-step host time split the engine records itself;
  3. under cProfile: the host functions that cost most (they are what keeps the GPU waiting).
Then batch-1 decode: a step of the engine against a bare CUDA-graph replay of the same shape.
"""
import argparse, cProfile, io, json, os, pstats, sys, time
from pathlib import Path

import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
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
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='qwen3-0.6b'); p.add_argument('--num', type=int, default=256)
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); p.add_argument('--no-cprofile', action='store_true')
    p.add_argument('--plain', action='store_true', help='no overlapped scheduling (the engine before issue 12)')
    a = p.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    llm = LLM(a.model, load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192, async_scheduling=not a.plain)
    run_offline(llm, random_token_workload(32, 562, 16, 462 / 562, 1, llm.core.model.config.vocab_size))   # warm-up: compile, capture
    res = {'gpu': torch.cuda.get_device_name(0), 'model': a.model, 'num': a.num, 'async_scheduling': not a.plain}
    res['timed'] = run_offline(llm, workload(llm, a.num), warmup=False)
    st = llm.stats()
    res['timed'].update({k: st[k] for k in ('num_steps', 'mean_schedule_ms', 'mean_forward_ms', 'mean_sample_ms')})
    print('timed', json.dumps(res['timed']), flush=True)
    res['profiled'] = profiled_busy(llm, workload(llm, a.num, 1))
    print('profiled', json.dumps(res['profiled']), flush=True)
    if not a.no_cprofile:
        text = host_profile(llm, workload(llm, a.num, 2))
        (out / f'host_profile_{a.model}{"_plain" if a.plain else ""}.txt').write_text(text)
        print(text[:6000], flush=True)
    res['bs1'] = bs1_step(llm)
    print('bs1', json.dumps(res['bs1']), flush=True)
    (out / f'gpu_idle_{a.model}{"_plain" if a.plain else ""}.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
