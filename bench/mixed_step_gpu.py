"""Why do steps that carry a prefill cost so much more than decode steps? (issue 12, build item 3)

    python bench/mixed_step_gpu.py [--shape qwen3-0.6b] [--running 254] [--arrivals 2] [--prompt-len 430] [--waves] [--out DIR]

Fills an `EngineCore` (plain steps, so each step is timed alone) with `--running` decoding requests, then times
synchronised steps of four kinds:
  decode        every row one token: a CUDA-graph replay;
  decode eager  the same rows with the graphs switched off (what a mixed step's decode rows cost);
  mixed         the decode rows plus `--arrivals` new prompts each step (what a server sees in steady state);
  mixed varied  the same with prompt lengths drawn from 400-460 (new shapes every step: does anything recompile?);
  mixed varied eager  the same with the mixed-step graphs off (how such steps ran before `CUDAGraphMixed`).
Then the host-device syncs in six overlapped mixed steps (`torch.cuda.set_sync_debug_mode`), a cProfile of the
host side, with `--waves` a wave of `--running` arrivals timed with plain and with overlapped steps, and a
torch-profiler pass over mixed steps (GPU-kernel time against wall time, the top kernels).
"""
import argparse, json, os, random, sys, time
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.engine import EngineCore
from nano_serve.scheduler import Request, SamplingParams


def timed_steps(core, n: int, arrive=None) -> list[float]:
    "Run `n` synchronised plain steps (calling `arrive(i)` before each); their wall times in ms."
    out = []
    for i in range(n):
        if arrive: arrive(i)
        torch.cuda.synchronize(); t0 = time.perf_counter()
        core.step(); torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def summary(ms: list[float]) -> dict:
    s = sorted(ms)
    return dict(n=len(s), mean_ms=sum(s) / len(s), p50_ms=s[len(s) // 2], max_ms=s[-1], first_ms=ms[:5])


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--shape', default='qwen3-0.6b'); p.add_argument('--running', type=int, default=254)
    p.add_argument('--arrivals', type=int, default=2); p.add_argument('--prompt-len', type=int, default=430)
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out'))
    p.add_argument('--waves', action='store_true', help='also time a wave of arrivals, plain against overlapped steps')
    a = p.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    core = EngineCore(a.shape, load_format='dummy', max_num_seqs=a.running + a.arrivals, max_num_batched_tokens=8192,
                      num_kv_blocks=(a.running + a.arrivals) * (a.prompt_len + 1100) // 16, async_scheduling=False)
    vocab, ids = core.limits.vocab_size, iter(range(10**9))
    def add(n_tokens: int, max_tokens: int):
        core.add(Request(f'r{next(ids)}', tuple(rng.randrange(100, vocab) for _ in range(n_tokens)),
                         SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True), None))
    for _ in range(a.running): add(a.prompt_len, 1000)
    while core.scheduler.waiting or any(r.num_computed_tokens < len(r.prompt_token_ids) for r in core.scheduler.running): core.step()
    for _ in range(5): core.step()
    res = {'gpu': torch.cuda.get_device_name(), 'shape': a.shape, 'running': a.running, 'arrivals': a.arrivals, 'prompt_len': a.prompt_len}
    res['decode'] = summary(timed_steps(core, 40))
    r = core.runner
    graphs, mixed_graphs, r.graphs, r.mixed_graphs = r.graphs, r.mixed_graphs, None, None
    res['decode_eager'] = summary(timed_steps(core, 20))
    r.graphs, r.mixed_graphs = graphs, mixed_graphs
    fixed = lambda i: [add(a.prompt_len, 1) for _ in range(a.arrivals)]        # one token each: they leave after their prefill step
    varied = lambda i: [add(rng.randrange(400, 461), 1) for _ in range(a.arrivals)]
    res['mixed'] = summary(timed_steps(core, 40, fixed))
    res['mixed_varied'] = summary(timed_steps(core, 40, varied))
    r.mixed_graphs = None    # the same steps run eagerly (how every step with a prefill ran before CUDAGraphMixed)
    res['mixed_varied_eager'] = summary(timed_steps(core, 30, varied))
    r.mixed_graphs = mixed_graphs
    import warnings            # any step that makes the host wait for the GPU (a blocking copy, .item(), .tolist())
    core.async_scheduling = True
    torch.cuda.set_sync_debug_mode('warn')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for i in range(6): varied(i); core.step()
    torch.cuda.set_sync_debug_mode(0)
    core.async_scheduling = False
    while core.inflight is not None: core.step()
    res['syncs_in_6_async_steps'] = [str(w.message)[:200] + ' @ ' + f'{w.filename}:{w.lineno}' for w in caught]
    print('syncs in 6 overlapped mixed steps:', len(caught), res['syncs_in_6_async_steps'][:8], flush=True)
    print({k: (round(v['mean_ms'], 2), round(v['p50_ms'], 2), round(v['max_ms'], 2)) for k, v in res.items() if isinstance(v, dict)}, flush=True)
    import cProfile, pstats, io
    prof = cProfile.Profile(); prof.enable(); timed_steps(core, 10, varied); prof.disable()
    for key in ('tottime', 'cumulative'):
        buf = io.StringIO(); pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(30); res[f'cprofile_{key}'] = buf.getvalue()
    print(res['cprofile_tottime'], flush=True)
    for mode in ('plain', 'async', 'plain') if a.waves else ():    # a wave: every running request leaves, `running` new prompts arrive at once
        core.finish(list(core.scheduler.requests)); core.async_scheduling = mode == 'async'
        while core.has_unfinished(): core.step()
        for _ in range(a.running): add(a.prompt_len, 8)
        n0, walls = len(core.metrics.steps), []
        torch.cuda.synchronize(); t0 = time.perf_counter()
        while core.has_unfinished():
            t = time.perf_counter(); core.step(); walls.append((time.perf_counter() - t) * 1e3)
        torch.cuda.synchronize()
        recs = list(core.metrics.steps)[n0:]
        pre = [(r.prefill_tokens, round(1e3 * r.schedule_s, 1), round(1e3 * r.forward_s, 1), round(1e3 * r.sample_s, 1)) for r in recs if r.prefill_tokens]
        res[f'wave_{mode}'] = dict(seconds=time.perf_counter() - t0, steps=len(walls), step_wall_ms=[round(w, 1) for w in walls],
                                   prefill_steps=pre)
        print(mode, 'wave', round(time.perf_counter() - t0, 3), 's; step walls', [round(w) for w in walls[:20]], '; prefill (tokens, sched, fwd, sample ms)', pre[:6], flush=True)
    core.async_scheduling = False

    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        timed_steps(core, 10, varied)
        wall = time.perf_counter() - t0
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    spans = sorted((e.time_range.start, e.time_range.end) for e in kernels)
    busy, end = 0.0, -1.0
    for s, e in spans:                          # merged kernel intervals, in µs
        if e <= end: continue
        busy += e - max(s, end); end = e
    res['profile_mixed'] = dict(wall_ms_per_step=wall * 1e2, gpu_busy_ms_per_step=busy / 1e4, kernels_per_step=len(kernels) / 10)
    res['top_kernels'] = prof.key_averages().table(sort_by='cuda_time_total', row_limit=15)
    res['top_cpu'] = prof.key_averages().table(sort_by='cpu_time_total', row_limit=15)
    print(res['profile_mixed'], flush=True); print(res['top_kernels']); print(res['top_cpu'])
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / f'mixed-step-{a.shape}.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
