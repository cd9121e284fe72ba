"""A measured timeline of a few engine steps: what the host does, and when the GPU is busy; plain and overlapped.

    python bench/step_timeline_gpu.py [--model qwen3-0.6b] [--num 256] [--steps 6] [--out DIR]

The nano-vllm workload (256 requests, 100-1,024 tokens in and out) runs on one engine; once every request is decoding
(after 300 steps), the torch profiler (host and GPU) records `--steps` steps with plain scheduling, then `--steps`
overlapped ones. Each host phase of the engine is wrapped in a `record_function` range (schedule, inputs + launch,
wait for tokens, update/resolve, outputs), and every GPU kernel is kept: lanes of (start, end, name) in microseconds
from the first step's start. The profiler's host tracing slows the host (every PyTorch call is recorded), so the host
bars are longer than unprofiled; the picture shows the shape, `bench/gpu_idle.py` the unprofiled numbers.
"""
import argparse, json, os, sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.bench import random_token_workload


def wrap(obj, name: str, label: str):
    "Put `obj.name` inside a profiler range called `label`."
    orig = getattr(obj, name)
    def wrapped(*a, **k):
        with torch.profiler.record_function(label): return orig(*a, **k)
    setattr(obj, name, wrapped)


def capture(llm, steps: int) -> dict:
    "Profile `steps` engine steps: host phase ranges and GPU kernels, in µs from the first step's start."
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            with torch.profiler.record_function('step'): llm.step(final_only=True)
        torch.cuda.synchronize()
    phases = ('step', 'schedule', 'inputs + launch', 'wait for tokens', 'update', 'outputs')
    host, gpu = [], []
    for e in prof.profiler.kineto_results.events():
        s, d = e.start_ns() / 1e3, e.duration_ns() / 1e3
        if e.device_type() == torch.autograd.DeviceType.CUDA: gpu.append((s, s + d, e.name()[:60]))
        elif e.name() in phases: host.append((s, s + d, e.name()))
    t0 = min(s for s, _, n in host if n == 'step')
    sh = lambda xs: sorted((round(a - t0, 1), round(b - t0, 1), n) for a, b, n in xs if b >= t0)
    return {'host': sh(host), 'gpu': sh(gpu)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', default='qwen3-0.6b'); p.add_argument('--num', type=int, default=256); p.add_argument('--steps', type=int, default=6)
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out'))
    a = p.parse_args()
    llm = LLM(a.model, load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192)
    c = llm.core
    wrap(c.scheduler, 'schedule', 'schedule'); wrap(c.runner, 'launch', 'inputs + launch'); wrap(c.runner, 'execute', 'inputs + launch')
    wrap(c.runner, 'wait', 'wait for tokens'); wrap(c.scheduler, 'resolve', 'update'); wrap(c.scheduler, 'update', 'update')
    wrap(llm.outputs, 'process', 'outputs')
    wl = random_token_workload(a.num, 562, 562, 462 / 562, 0, c.model.config.vocab_size)
    for prompt, _ in wl: llm.add_request(prompt, SamplingParams(temperature=0, max_tokens=1024, ignore_eos=True))
    for _ in range(300): llm.step(final_only=True)
    res = {'gpu': torch.cuda.get_device_name(0), 'model': a.model, 'running': len(c.scheduler.running)}
    for mode in ('plain', 'overlapped'):
        c.async_scheduling = mode == 'overlapped'
        for _ in range(3): llm.step(final_only=True)      # settle into the mode
        res[mode] = capture(llm, a.steps)
        g = res[mode]['gpu']; span = g[-1][1] - g[0][0]
        print(mode, 'steps', a.steps, 'span us', round(span), 'gpu busy', round(sum(b - s for s, b, _ in g) / span, 3), flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / 'step-timeline.json').write_text(json.dumps(res))
    while llm.has_unfinished():
        for r in list(c.scheduler.running) + list(c.scheduler.waiting): llm.abort(r.request_id)
        llm.step()


if __name__ == '__main__': main()
