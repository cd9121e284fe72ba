"""Issue 14 on a multi-GPU host: tensor parallelism against one GPU, same host, same run.

    python bench/tp_gpu.py [--out DIR] [--shape llama-3.1-8b] [--tp 2] [--big llama-3.1-70b] [--skip throughput]

Each measurement runs in a process of its own (GPU memory is free between them), bf16, random weights of a shipped
shape (identical at every TP size: `dummy_weight` depends only on the parameter's name):
  decode      the top-5 log-probabilities of the first 8 greedy tokens of 4 prompts (TP=N against TP=1: largest difference),
              then batch 1: a 128-token prompt, 256 new tokens; tokens/s and the step time;
  eager       the same without CUDA graphs (what capturing the all-reduce buys);
  throughput  512 requests of 1,024 tokens in, 128 out, max_num_seqs 256: output and total tokens/s;
  big         `--big` at TP=N alone (a model one GPU cannot hold): decode at batch 1.
NCCL's NVLink multicast stays off (NCCL_NVLS_ENABLE=0), as the lent hosts require. Results: DIR/tp-gpu.json.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for k, v in {'NCCL_NVLS_ENABLE': '0', 'TORCH_SYMM_MEM_DISABLE_MULTICAST': '1', 'NVSHMEM_DISABLE_NVLS': '1'}.items():
    os.environ.setdefault(k, v)   # NVLink multicast off, as the lent hosts require (inherited by the rank processes)


def one(kind: str, shape: str, tp: int) -> tuple:
    "Run one measurement in this process: (its result, the engine, still open)."
    import torch
    from nano_serve.engine import LLM, SamplingParams
    from nano_serve.bench import random_token_workload, run_offline
    seqs, budget = (256, 8192) if kind == 'throughput' else (8, 2048)   # fewer graphs to capture where one request runs
    t0 = time.perf_counter()
    llm = LLM(shape, load_format='dummy', tensor_parallel_size=tp, max_num_seqs=seqs, max_num_batched_tokens=budget,
              enforce_eager=kind == 'eager')
    out = {'kind': kind, 'shape': shape, 'tp': tp, 'gpu': torch.cuda.get_device_name(), 'load_s': time.perf_counter() - t0,
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
    else:
        wl = random_token_workload(512, 1024, 128, 1.0, 0, vocab)
        run_offline(llm, random_token_workload(16, 1024, 16, 1.0, 1, vocab))     # warm-up
        out.update(run_offline(llm, wl, warmup=False))
    return out, llm


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); p.add_argument('--shape', default='llama-3.1-8b')
    p.add_argument('--tp', type=int, default=2); p.add_argument('--big', default=None)
    p.add_argument('--skip', default='', help='comma-separated kinds to leave out')
    p.add_argument('--job-timeout', type=float, default=900, help='seconds before one measurement is given up')
    p.add_argument('--one', nargs=3, metavar=('KIND', 'SHAPE', 'TP'), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        res, llm = one(a.one[0], a.one[1], int(a.one[2]))
        print('RESULT ' + json.dumps(res, default=str), flush=True)
        t0 = time.perf_counter(); llm.close(); print(f'CLOSED {time.perf_counter() - t0:.2f}', flush=True); return
    out, res = Path(a.out), []
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(k, a.shape, tp) for k in ('decode', 'eager', 'throughput') if k not in a.skip.split(',') for tp in (1, a.tp)]
    if a.big: jobs.append(('big', a.big, a.tp))
    for kind, shape, tp in jobs:
        t0 = time.time()
        try:
            r = subprocess.run([sys.executable, __file__, '--one', kind, shape, str(tp)], capture_output=True, text=True, timeout=a.job_timeout)
            stdout, stderr = r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            text = lambda b: b.decode(errors='replace') if isinstance(b, bytes) else b or ''
            stdout, stderr = text(e.stdout) + '\ntimed out', text(e.stderr)
        line = next((l for l in stdout.splitlines() if l.startswith('RESULT ')), None)
        res.append(json.loads(line[7:]) if line else {'kind': kind, 'shape': shape, 'tp': tp, 'error': stdout[-200:] + stderr[-3000:]})
        closed = next((l for l in stdout.splitlines() if l.startswith('CLOSED ')), None)
        res[-1].update(wall_s=time.time() - t0, close_s=float(closed[7:]) if closed else 'did not close')
        print({k: v for k, v in res[-1].items() if k not in ('tokens', 'logprobs')}, flush=True)
        (out / 'tp-gpu.json').write_text(json.dumps(res, indent=1, default=str))
    lp = {r['tp']: r for r in res if r['kind'] == 'decode' and 'error' not in r}
    if len(lp) == 2:
        x, y = lp[1]['logprobs'], lp[a.tp]['logprobs']
        diff = max(abs(u - v) for a1, b1 in zip(x, y) for s, t in zip(a1, b1) for u, v in zip(s, t))
        same = sum(s == t for s, t in zip(lp[1]['tokens'], lp[a.tp]['tokens']))
        print(f'logprobs TP={a.tp} vs TP=1: largest difference {diff:.4f}; {same}/4 greedy outputs identical', flush=True)


if __name__ == '__main__': main()
