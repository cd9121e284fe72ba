"""Issue 14 on a multi-GPU host: tensor parallelism against one GPU, same host, same run.

    python bench/tp_gpu.py [--out DIR] [--shape llama-3.1-8b] [--tp 2,4] [--big llama-3.1-70b] [--skip throughput]
                           [--nccl-too] [--profile]

Each measurement runs in a process of its own (GPU memory is free between them), bf16, random weights of a shipped
shape (identical at every TP size: `dummy_weight` depends only on the parameter's name):
  decode      the top-5 log-probabilities of the first 8 greedy tokens of 4 prompts (TP=N against TP=1: largest difference),
              then batch 1: a 128-token prompt, 256 new tokens; tokens/s and the step time;
  eager       the same without CUDA graphs (what capturing the all-reduce buys);
  throughput  512 requests of 1,024 tokens in, 128 out, max_num_seqs 256: output and total tokens/s;
  big         `--big` at the largest TP alone (a model one GPU cannot hold): decode at batch 1;
  bigthroughput  the same model under the throughput workload.
Every size in `--tp` runs beside TP=1. Decode runs report the memory-bandwidth utilisation (MBU): the bytes a step
reads (weights without the embedding table, plus the KV cache) over the step time, divided by TP times one GPU's copy
bandwidth, measured in the same process (a 2 GiB device-to-device copy, read plus write). `--nccl-too` repeats the
decode and big runs with every all-reduce through NCCL (`custom_all_reduce=False`); `--profile` ends each throughput
run with a short profiled one (rank 0's kernels summed by kind: matmul, attention, all-reduce, other).
NCCL's NVLink multicast stays off (NCCL_NVLS_ENABLE=0), as the lent hosts require. Results: DIR/tp-gpu.json.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for k, v in {'NCCL_NVLS_ENABLE': '0', 'TORCH_SYMM_MEM_DISABLE_MULTICAST': '1', 'NVSHMEM_DISABLE_NVLS': '1'}.items():
    os.environ.setdefault(k, v)   # NVLink multicast off, as the lent hosts require (inherited by the rank processes)


def copy_bandwidth(nbytes: int = 2 << 30) -> float:
    "This GPU's device-to-device copy bandwidth in bytes/s (read plus write), best of 20 copies of `nbytes`."
    import torch
    x = torch.empty(nbytes, dtype=torch.uint8, device='cuda'); y = torch.empty_like(x)
    y.copy_(x); torch.cuda.synchronize(); best = float('inf')
    for _ in range(20):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); y.copy_(x); b.record(); torch.cuda.synchronize(); best = min(best, a.elapsed_time(b) / 1e3)
    del x, y; torch.cuda.empty_cache()
    return 2 * nbytes / best


def step_bytes(model, tp: int, context: int) -> float:
    "Bytes a decode step at batch 1 reads over all ranks: rank 0's weights but the embedding table, times TP, plus the KV cache."
    tensors = list(model.named_parameters()) + list(model.named_buffers())   # packed or quantized weights are buffers
    w = sum(p.numel() * p.element_size() for n, p in tensors if 'embed_tokens' not in n)
    c = model.config
    kv = 2 * c.num_hidden_layers * c.num_key_value_heads * (c.hidden_size // c.num_attention_heads) * model.dtype.itemsize
    return w * tp + kv * context


def kernel_summary(prof) -> dict:
    "Rank 0's GPU kernel time from a torch profile, summed by kind (ms) and as shares."
    from torch.autograd import DeviceType
    kinds = {'all-reduce (NCCL)': ('nccl',), 'all-reduce (one-shot)': ('one_shot', 'all_reduce'),
             'attention (Triton)': ('_decode', '_prefill', 'paged'), 'matmul': ('gemm', 'cutlass', 'nvjet', 'xmma', 'gemv')}
    total = {}
    for e in prof.events():
        if e.device_type != DeviceType.CUDA: continue
        name = e.name.lower()
        k = next((k for k, keys in kinds.items() if any(w in name for w in keys)), 'other')
        total[k] = total.get(k, 0) + e.time_range.elapsed_us() / 1e3
    all_ms = sum(total.values()) or 1
    return {k: {'ms': round(v, 2), 'share': round(v / all_ms, 3)} for k, v in sorted(total.items(), key=lambda kv: -kv[1])}


def one(kind: str, shape: str, tp: int, nccl: bool = False, profile: bool = False) -> tuple:
    "Run one measurement in this process: (its result, the engine, still open)."
    import torch
    from nano_serve.engine import LLM, SamplingParams
    from nano_serve.bench import random_token_workload, run_offline
    bw = copy_bandwidth()
    throughput = kind in ('throughput', 'bigthroughput')
    seqs, budget = (256, 8192) if throughput else (8, 2048)   # fewer graphs to capture where one request runs
    t0 = time.perf_counter()
    llm = LLM(shape, load_format='dummy', tensor_parallel_size=tp, max_num_seqs=seqs, max_num_batched_tokens=budget,
              enforce_eager=kind == 'eager', custom_all_reduce=not nccl)
    out = {'kind': kind, 'shape': shape, 'tp': tp, 'all_reduce': 'NCCL only' if nccl else 'default',
           'gpu': torch.cuda.get_device_name(), 'copy_GBps': bw / 1e9, 'load_s': time.perf_counter() - t0,
           'kv_blocks': llm.core.allocator.num_blocks, 'gpu_mem_GiB': torch.cuda.max_memory_allocated() / 2**30,
           'paths': llm.core.paths()}
    vocab = llm.core.model.config.vocab_size
    if kind == 'decode':   # the logits check first, on the same engine
        prompts = [p for p, _ in random_token_workload(4, 64, 8, 1.0, 5, vocab)]
        outs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=8, logprobs=5, ignore_eos=True), use_tqdm=False)
        out['tokens'] = [o.outputs[0].token_ids for o in outs]
        out['logprobs'] = [[sorted(v for _, v in lp.top) for lp in o.outputs[0].logprobs] for o in outs]
    if kind in ('decode', 'eager', 'big'):
        p = random_token_workload(1, 128, 256, 1.0, 1, vocab)[0][0]
        llm.generate([p], SamplingParams(temperature=0, max_tokens=16, ignore_eos=True), use_tqdm=False)   # warm-up
        torch.cuda.synchronize(); t = time.perf_counter()
        llm.generate([p], SamplingParams(temperature=0, max_tokens=256, ignore_eos=True), use_tqdm=False)
        torch.cuda.synchronize(); dt = time.perf_counter() - t
        out.update(tok_s=256 / dt, step_ms=1e3 * dt / 256)
        b = step_bytes(llm.core.model, tp, 128 + 128)   # the context averages 256 tokens over the 256 steps
        out.update(step_GB=b / 1e9, mbu=b / (dt / 256) / (bw * tp))
    else:
        wl = random_token_workload(512, 1024, 128, 1.0, 0, vocab)
        run_offline(llm, random_token_workload(16, 1024, 16, 1.0, 1, vocab))     # warm-up
        out.update(run_offline(llm, wl, warmup=False))
        if profile:
            from torch.profiler import profile as prof_, ProfilerActivity
            small = random_token_workload(64, 1024, 64, 1.0, 2, vocab)
            with prof_(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                t = time.perf_counter(); run_offline(llm, small, warmup=False); torch.cuda.synchronize()
            out['profile'] = {'workload': '64 requests, 1,024 in, 64 out', 'wall_ms': 1e3 * (time.perf_counter() - t),
                              'kernels': kernel_summary(prof)}
    return out, llm


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); p.add_argument('--shape', default='llama-3.1-8b')
    p.add_argument('--tp', default='2', help='comma-separated TP sizes, each run beside TP=1'); p.add_argument('--big', default=None)
    p.add_argument('--nccl-too', action='store_true', help='repeat decode and big runs with every all-reduce through NCCL')
    p.add_argument('--profile', action='store_true', help='profile a short run after each throughput run')
    p.add_argument('--close', default='decode', help='kinds whose engines are closed politely (others exit at once)')
    p.add_argument('--skip', default='', help='comma-separated kinds to leave out')
    p.add_argument('--job-timeout', type=float, default=900, help='seconds before one measurement is given up')
    p.add_argument('--one', nargs=4, metavar=('KIND', 'SHAPE', 'TP', 'NCCL'), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        res, llm = one(a.one[0], a.one[1], int(a.one[2]), a.one[3] == 'nccl', a.profile)
        print('RESULT ' + json.dumps(res, default=str), flush=True)
        if a.one[0] not in a.close.split(','):   # stop the followers and leave without NCCL's slow goodbye
            for p_ in (llm.core.followers.procs if llm.core.followers else []): p_.kill(); p_.join()
            os._exit(0)
        t0 = time.perf_counter(); llm.close(); print(f'CLOSED {time.perf_counter() - t0:.2f}', flush=True); return
    out, res = Path(a.out), []
    out.mkdir(parents=True, exist_ok=True)
    tps, skip = [int(t) for t in a.tp.split(',')], a.skip.split(',')
    jobs = [(k, a.shape, tp, 'default') for k in ('decode', 'eager', 'throughput') if k not in skip for tp in [1] + tps]
    if a.nccl_too and 'decode' not in skip: jobs += [('decode', a.shape, tp, 'nccl') for tp in tps]
    if a.big:
        jobs += [(k, a.big, max(tps), 'default') for k in ('big', 'bigthroughput') if k not in skip]
        if a.nccl_too and 'big' not in skip: jobs.append(('big', a.big, max(tps), 'nccl'))
    for kind, shape, tp, ar in jobs:
        t0 = time.time()
        cmd = [sys.executable, __file__, '--one', kind, shape, str(tp), ar, '--close', a.close] + (['--profile'] if a.profile else [])
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.job_timeout)
            stdout, stderr = r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            text = lambda b: b.decode(errors='replace') if isinstance(b, bytes) else b or ''
            stdout, stderr = text(e.stdout) + '\ntimed out', text(e.stderr)
        line = next((l for l in stdout.splitlines() if l.startswith('RESULT ')), None)
        res.append(json.loads(line[7:]) if line else {'kind': kind, 'shape': shape, 'tp': tp, 'all_reduce': ar,
                                                       'error': stdout[-200:] + stderr[-3000:]})
        closed = next((l for l in stdout.splitlines() if l.startswith('CLOSED ')), None)
        res[-1].update(wall_s=time.time() - t0, close_s=float(closed[7:]) if closed else 'not closed')
        print({k: v for k, v in res[-1].items() if k not in ('tokens', 'logprobs')}, flush=True)
        (out / 'tp-gpu.json').write_text(json.dumps(res, indent=1, default=str))
    lp = {(r['tp'], r['all_reduce']): r for r in res if r['kind'] == 'decode' and 'error' not in r}
    for (tp, ar), r in lp.items():
        if tp == 1 or (1, 'default') not in lp: continue
        x, y, tx, ty = lp[1, 'default']['logprobs'], r['logprobs'], lp[1, 'default']['tokens'], r['tokens']
        # compare only up to the first differing token: after it the two runs continue different texts
        upto = [next((i for i, (u, v) in enumerate(zip(s, t)) if u != v), len(s) - 1) for s, t in zip(tx, ty)]
        diff = max(abs(u - v) for a1, b1, k in zip(x, y, upto) for s, t in zip(a1[:k + 1], b1[:k + 1]) for u, v in zip(s, t))
        same = sum(s == t for s, t in zip(tx, ty))
        print(f'logprobs TP={tp} ({ar}) vs TP=1 up to the first differing token: largest difference {diff:.4f}; '
              f'{same}/4 greedy outputs identical', flush=True)


if __name__ == '__main__': main()
