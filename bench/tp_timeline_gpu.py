"""Issue 14: where a tensor-parallel decode step at batch 1 spends its time, rank by rank.

    python bench/tp_timeline_gpu.py [--out DIR] [--shape llama-3.1-8b] [--tp 1,2] [--ar push,one-shot] [--tokens 256]

For each TP size (and each small all-reduce of `--ar` when TP > 1), in a process of its own (bf16, random weights,
CUDA graphs, overlapped scheduling):
  logprobs    the top-5 log-probabilities of the first 8 greedy tokens of 4 prompts (to compare across runs);
  engine      `LLM.generate` of one 128-token prompt, `--tokens` new tokens: ms a token;
  host        rank 0's host time a step by part (schedule+outputs = the rest; send to followers; input building; graph
              replay call; waiting for the sampled token), from timers around those calls during a second generate;
  forward     the same decode step sent `--loop` times in a row through `ModelRunner.forward` (no scheduler, no
              sampling): what the transport, input building and the GPU alone cost a step;
  kernels     a torch profile of 24 engine steps on rank 0: GPU kernel time a step by kind, how busy the GPU was, and
              the one-shot all-reduce's durations (long ones are waits for a later rank);
  follower    for TP > 1, each follower's time a step waiting for the step to arrive and running it (host).
NCCL's NVLink multicast stays off. Results: DIR/tp-timeline.json.
"""
import argparse, json, os, subprocess, sys, time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for k, v in {'NCCL_NVLS_ENABLE': '0', 'TORCH_SYMM_MEM_DISABLE_MULTICAST': '1', 'NVSHMEM_DISABLE_NVLS': '1'}.items():
    os.environ.setdefault(k, v)


def timed(store: dict, key: str, fn):
    "`fn`, adding each call's seconds to `store[key]`."
    def wrapper(*a, **kw):
        t = time.perf_counter()
        try: return fn(*a, **kw)
        finally: store[key].append(time.perf_counter() - t)
    return wrapper


def timed_follower(*args):
    "A follower that records, per step, how long it waited for the step and how long running it took (host)."
    import torch.distributed as dist
    from nano_serve import workers, runner as runner_mod
    times, rank = defaultdict(list), args[0]
    dist.broadcast_object_list = timed(times, 'wait', dist.broadcast_object_list)
    forward = runner_mod.ModelRunner.forward
    def fwd(self, *a, **kw):
        out = timed(times, 'run', forward)(self, *a, **kw)
        if len(times['run']) % 32 == 0: Path(f'/tmp/follower-{rank}.json').write_text(json.dumps(times))
        return out
    runner_mod.ModelRunner.forward = fwd
    workers.follower_main(*args)


def stats(xs: list, skip: int = 4) -> dict:
    "Median and mean (ms) of a list of seconds, leaving the first `skip` out."
    import statistics
    xs = xs[skip:] or xs
    return {'n': len(xs), 'median_ms': 1e3 * statistics.median(xs), 'mean_ms': 1e3 * sum(xs) / len(xs)} if xs else {}


def kernels(prof, steps: int) -> dict:
    "Rank 0's GPU kernels of a profile: ms a step by name (top 12), busy share of the wall, one-shot all-reduce durations."
    from torch.autograd import DeviceType
    ev = sorted((e for e in prof.events() if e.device_type == DeviceType.CUDA), key=lambda e: e.time_range.start)
    if not ev: return {}
    by, ar = defaultdict(lambda: [0.0, 0]), []
    busy, end = 0.0, -1.0
    for e in ev:
        s, t = e.time_range.start, e.time_range.end
        by[e.name[:90]][0] += (t - s) / 1e3; by[e.name[:90]][1] += 1
        if 'one_shot' in e.name.lower() or 'allreduce' in e.name.lower() or 'all_reduce' in e.name.lower(): ar.append(t - s)
        if t > end: busy += t - max(s, end); end = t
    wall = ev[-1].time_range.end - ev[0].time_range.start
    ar.sort()
    top = sorted(by.items(), key=lambda kv: -kv[1][0])[:14]
    return {'steps': steps, 'kernel_ms_per_step': sum(v[0] for v in by.values()) / steps,
            'kernels_per_step': sum(v[1] for v in by.values()) / steps, 'busy_share': busy / wall,
            'wall_ms_per_step': wall / 1e3 / steps,
            'all_reduce_us': {'n': len(ar), 'p10': ar[len(ar) // 10], 'median': ar[len(ar) // 2], 'p90': ar[9 * len(ar) // 10],
                              'max': ar[-1], 'sum_ms_per_step': sum(ar) / 1e3 / steps} if ar else None,
            'top': [[k, round(v[0] / steps, 4), v[1] / steps] for k, v in top]}


def one(shape: str, tp: int, tokens: int, loop: int, ar: str) -> dict:
    import torch
    from nano_serve import workers, runner as runner_mod
    from nano_serve.engine import LLM, SamplingParams
    from nano_serve.bench import random_token_workload
    if tp > 1: workers.follower_main = timed_follower
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    llm = LLM(shape, load_format='dummy', tensor_parallel_size=tp, max_num_seqs=8, max_num_batched_tokens=2048, custom_all_reduce=ar)
    out = {'shape': shape, 'tp': tp, 'all_reduce': ar if tp > 1 else None, 'gpu': torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', 'paths': llm.core.paths()}
    vocab, run = llm.core.model.config.vocab_size, llm.core.runner
    p = random_token_workload(1, 128, tokens, 1.0, 1, vocab)[0][0]
    gen = lambda n: llm.generate([p], SamplingParams(temperature=0, max_tokens=n, ignore_eos=True), use_tqdm=False)
    prompts = [q for q, _ in random_token_workload(4, 64, 8, 1.0, 5, vocab)]
    outs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=8, logprobs=5, ignore_eos=True), use_tqdm=False)
    out['tokens'] = [o.outputs[0].token_ids for o in outs]
    out['logprobs'] = [[sorted(v for _, v in lp.top) for lp in o.outputs[0].logprobs] for o in outs]
    gen(16); sync()
    t = time.perf_counter(); gen(tokens); sync()
    out['engine_ms_per_token'] = 1e3 * (time.perf_counter() - t) / tokens
    # host parts on rank 0
    times, last = defaultdict(list), {}
    core = llm.core
    run.launch, run.wait, core.step = timed(times, 'launch', run.launch), timed(times, 'wait', run.wait), timed(times, 'step', core.step)
    runner_mod.prepare_inputs = timed(times, 'prepare', runner_mod.prepare_inputs)
    if run.graphs: run.graphs.run = timed(times, 'graph_run', run.graphs.run)
    if run.followers: run.followers.send = timed(times, 'send', run.followers.send)
    fwd = run.forward
    def keep(batch, graphs=True):
        if batch.chunks and all(c.is_decode for c in batch.chunks): last['batch'] = batch
        return fwd(batch, graphs)
    run.forward = keep
    t = time.perf_counter(); gen(tokens); sync()
    out['engine_ms_per_token_timed'] = 1e3 * (time.perf_counter() - t) / tokens
    out['host'] = {k: stats(v) for k, v in times.items()}
    run.forward = fwd
    # the same decode step, again and again: transport + inputs + GPU, nothing else
    b = last['batch']
    with torch.inference_mode():
        for _ in range(8): run.forward(b)
        sync(); t = time.perf_counter()
        for _ in range(loop): run.forward(b)
        sync()
    out['forward_loop_ms'] = 1e3 * (time.perf_counter() - t) / loop
    # a profile of engine steps
    from torch.profiler import profile, ProfilerActivity
    gen(8)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        gen(24); sync()
    out['kernels'] = kernels(prof, 24)
    if tp > 1:
        time.sleep(1)
        out['follower'] = {}
        for r in range(1, tp):
            f = Path(f'/tmp/follower-{r}.json')
            if f.exists(): out['follower'][r] = {k: stats(v, skip=40) for k, v in json.loads(f.read_text()).items()}
    for pr in (core.followers.procs if core.followers else []): pr.kill(); pr.join()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); ap.add_argument('--shape', default='llama-3.1-8b')
    ap.add_argument('--tp', default='1,2'); ap.add_argument('--tokens', type=int, default=256)
    ap.add_argument('--ar', default='push', help="small all-reduces to compare at TP > 1: push, one-shot, nccl")
    ap.add_argument('--loop', type=int, default=200); ap.add_argument('--one', type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one is not None:
        ar = {'nccl': False, 'push': True}.get(a.ar, a.ar)
        print('RESULT ' + json.dumps(one(a.shape, a.one, a.tokens, a.loop, ar), default=str), flush=True); os._exit(0)
    out, res = Path(a.out), []
    out.mkdir(parents=True, exist_ok=True)
    runs = [(int(t), ar) for t in a.tp.split(',') for ar in (['push'] if t == '1' else a.ar.split(','))]
    for tp, ar in runs:
        r = subprocess.run([sys.executable, __file__, '--one', str(tp), '--ar', ar, '--shape', a.shape, '--tokens', str(a.tokens),
                            '--loop', str(a.loop)], capture_output=True, text=True, timeout=600)
        line = next((l for l in r.stdout.splitlines() if l.startswith('RESULT ')), None)
        res.append(json.loads(line[7:]) if line else {'tp': tp, 'all_reduce': ar, 'error': r.stdout[-500:] + r.stderr[-3000:]})
        print(json.dumps({k: v for k, v in res[-1].items() if k not in ('tokens', 'logprobs')}, indent=1)[:3000], flush=True)
        (out / 'tp-timeline.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
