"""The host's work per engine step, without a device: how long the GPU would wait if the host did not overlap it.

    python bench/host_step.py [--batch 256] [--steps 300] [--rounds 5] [--before PATH] [--profile] [--output-json F]

The real `EngineCore` bookkeeping (scheduler, allocator with prefix caching, overlapped scheduling's advance and
resolve, metrics) and the real `prepare_inputs` and `OutputProcessor`, around a runner whose "device" returns the
sampled tokens at once: `--batch` requests of 100-1,024 prompt tokens (the nano-vllm workload's lengths) all decoding,
timed over `--steps` steps. `--before PATH` also times another checkout of the package (e.g. a `git worktree` of an
earlier commit), alternating rounds with this one, since a shared VM drifts between minutes; the medians are compared.
"""
import argparse, cProfile, importlib, inspect, io, json, platform, pstats, random, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(root: Path):
    "Import nano_serve from `root` (dropping any copy already imported)."
    for m in [m for m in sys.modules if m == 'nano_serve' or m.startswith('nano_serve.')]: del sys.modules[m]
    sys.path.insert(0, str(root))
    try: return {m: importlib.import_module(f'nano_serve.{m}') for m in ('engine', 'scheduler', 'allocator', 'sampler', 'metrics', 'frontend', 'runner')}
    finally: sys.path.remove(str(root))


def make_core(ns: dict, batch: int):
    "An `EngineCore` of package `ns` whose runner answers at once: the host's work only."
    import torch
    runner_mod, sampler_mod = ns['runner'], ns['sampler']
    takes_tables = 'tables' in inspect.signature(runner_mod.prepare_inputs).parameters

    class InstantRunner:
        def __init__(self): self.sampler, self.graphs, self.last_rows, self.n = sampler_mod.Sampler(), None, {}, 0
        def launch(self, batch):
            t0 = time.perf_counter()
            extra = (batch.block_tables,) if takes_tables else ()
            runner_mod.prepare_inputs(batch.chunks, 16, 'cpu', self.last_rows, *extra)
            sampling = [c for c in batch.chunks if c.sample]
            self.last_rows = {c.request_id: i for i, c in enumerate(sampling)}
            toks = torch.arange(len(sampling)) * 7 + 1000 + self.n; self.n += 1
            return runner_mod.InFlight(batch, toks, None, [c.request_id for c in sampling], time.perf_counter() - t0)
        def wait(self, step):
            return sampler_mod.StepResult({rid: [t] for rid, t in zip(step.request_ids, step.host_tokens.tolist())})

    class HostCore(ns['engine'].EngineCore):
        def __init__(self):
            self.device, self.max_model_len = torch.device('cpu'), 8192
            self.allocator = ns['allocator'].BlockAllocator(100_000, 16, enable_prefix_caching=True)
            self.scheduler = ns['scheduler'].Scheduler(self.allocator, batch, 8192, max_model_len=self.max_model_len)
            self.runner, self.metrics, self.check_invariants = InstantRunner(), ns['metrics'].Metrics(), False
            self.limits = ns['frontend'].EngineLimits(49152, self.max_model_len, 100_000, 16, 2)
            self._sent, self._last_token, self.async_scheduling, self.inflight, self._host_readers = {}, {}, True, None, set()
            self.gate, self.speculating, self._decided, self.drafter = None, False, None, None
    return HostCore()


def run(ns: dict, batch: int, steps: int, profile: bool = False) -> float:
    "Mean host milliseconds per step with `batch` requests decoding (cProfile's top functions printed if `profile`)."
    core, outs = make_core(ns, batch), ns['frontend'].OutputProcessor(None)
    final = 'final_only' in inspect.signature(outs.process).parameters   # offline generate reads finished outputs only
    process = (lambda d: outs.process(d, final_only=True)) if final else outs.process
    rng = random.Random(0)
    for i in range(batch):
        r = ns['scheduler'].Request(str(i), tuple(rng.randrange(1000, 30000) for _ in range(rng.randint(100, 1024))),
                                    ns['scheduler'].SamplingParams(temperature=0, max_tokens=4000, ignore_eos=True), 2)
        core.add(r); outs.add(r)
    while core.scheduler.waiting or any(r.num_computed_tokens < len(r.prompt_token_ids) for r in core.scheduler.running): process(core.step())
    for _ in range(5): process(core.step())
    pr = cProfile.Profile() if profile else None
    if pr: pr.enable()
    t0 = time.perf_counter()
    for _ in range(steps): process(core.step())
    ms = (time.perf_counter() - t0) / steps * 1e3
    if pr:
        pr.disable(); s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats('tottime').print_stats(20); print(s.getvalue())
    return ms


def cpu_name() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines() if l.startswith('Model name'))
    except Exception: return platform.processor()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--batch', type=int, default=256); p.add_argument('--steps', type=int, default=300)
    p.add_argument('--rounds', type=int, default=5); p.add_argument('--before', default=None, help='another checkout to time against')
    p.add_argument('--profile', action='store_true'); p.add_argument('--output-json', default=None)
    a = p.parse_args()
    import torch; torch.set_num_threads(1)
    roots = {'this': ROOT} | ({'before': Path(a.before).resolve()} if a.before else {})
    times = {k: [] for k in roots}
    for i in range(a.rounds):
        for k, root in roots.items():
            times[k].append(run(load(root), a.batch, a.steps)); print(f'round {i} {k}: {times[k][-1]:.2f} ms/step', flush=True)
    res = {'cpu': cpu_name(), 'batch': a.batch, 'steps': a.steps, 'ms_per_step': {k: statistics.median(v) for k, v in times.items()}, 'rounds': times}
    print(json.dumps(res['ms_per_step']))
    if a.profile: run(load(ROOT), a.batch, a.steps // 2, profile=True)
    if a.output_json: Path(a.output_json).write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
