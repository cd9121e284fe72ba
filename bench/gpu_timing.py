"""Kernel timing inside a CUDA graph, shared by the GPU exploration scripts: no launch overhead, the kernels alone.
And batch-1 decode of an engine, timed the same way by every script that compares weight formats or kernels."""
import gc, json, os, random, time
from pathlib import Path
import torch


def graph_ms(calls, reps: int = 5) -> float:
    "Milliseconds per call of `calls` (a list of thunks) captured in one CUDA graph, median over `reps` replays."
    for c in calls: c()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for c in calls: c()
    g.replay(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    return sorted(ts)[reps // 2] / len(calls)


LLAMA_8B = {'qkv': (6144, 4096), 'o': (4096, 4096), 'gate_up': (28672, 4096), 'down': (4096, 14336), 'head': (128256, 4096)}   # [N, K]


def int8_copies(n: int, k: int, mb: int = 400) -> list:
    "Random int8 `[n, k]` weights, enough copies (two at least) that a graph over all of them reads `mb` MB: none comes from L2."
    return [torch.randint(-127, 128, (n, k), dtype=torch.int8, device='cuda') for _ in range(max(2, -(-mb * 2**20 // (n * k))))]


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    "The largest absolute difference of `got` from `want`, over the largest |want|."
    return ((got.float() - want).abs().max() / want.abs().max()).item()


def bs1_step(llm, prompt_len: int = 128, new: int = 256) -> tuple[float, list]:
    "Seconds a batch-1 decode step of `llm` takes (one request, `new` greedy tokens after a 16-token warm-up), and the warm-up's tokens."
    from nano_serve.engine import SamplingParams
    p = [random.Random(0).randrange(100, 30000) for _ in range(prompt_len)]
    ids = list(llm.generate([p], SamplingParams(temperature=0, max_tokens=16, ignore_eos=True), use_tqdm=False)[0].outputs[0].token_ids)
    llm.add_request(p, SamplingParams(temperature=0, max_tokens=new, ignore_eos=True))
    first = None
    while llm.has_unfinished():
        for _ in llm.step():
            if first is None: first = time.perf_counter()
    torch.cuda.synchronize()
    return (time.perf_counter() - first) / (new - 1), ids


def bs1_run(undo=None, model: str = 'llama-3.1-8b', **kw) -> dict:
    "Batch-1 decode of `model` (dummy weights, `LLM(..., **kw)`): tok/s, step ms, the warm-up's greedy tokens; then `undo()` (a patch's), always."
    from nano_serve.engine import LLM
    try:
        llm = LLM(model, load_format='dummy', max_num_seqs=1, max_num_batched_tokens=512, **kw)
        step, ids = bs1_step(llm)
        del llm
    finally:
        if undo: undo()
        gc.collect(); torch.cuda.empty_cache()
    return {'tok_s': 1 / step, 'step_ms': step * 1e3, 'first16': ids}


# A bracket: bfloat16's step first, the variants, the shipped format again and bfloat16 again last, so a drift of the
# card's speed over the call shows in the two ends; every step is reported as a speed-up over bfloat16's mean.
def open_bracket() -> dict:
    "A record for one bracket on this GPU, with bfloat16's batch-1 step already timed."
    R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'date': time.strftime('%Y-%m-%d'), 'steps': {}}
    record_step(R, 'bf16')
    return R

def record_step(R: dict, name: str, undo=None, **kw):
    "`bs1_run(undo, **kw)` kept in `R` as step `name`, and printed."
    R['steps'][name] = bs1_run(undo, **kw); print(name, R['steps'][name]['step_ms'], flush=True)

def patched_steps(R: dict, module, attr: str, variants: dict, **kw):
    "One step for each of `variants` ({name: replacement of `module.attr`, or None for the shipped one}), restoring it after each."
    orig = getattr(module, attr)
    for name, v in variants.items():
        if v is not None: setattr(module, attr, v)
        record_step(R, name, lambda: setattr(module, attr, orig), **kw)

def close_bracket(R: dict, shipped: str, out: str, **kw):
    "The shipped step (`**kw`) and bfloat16 again, every step's speed over bfloat16's mean, and `R` written to `$OUT/out`."
    record_step(R, f'{shipped} again', **kw); record_step(R, 'bf16 again')
    bf16 = (R['steps']['bf16']['step_ms'] + R['steps']['bf16 again']['step_ms']) / 2
    R['over_bf16'] = {k: bf16 / v['step_ms'] for k, v in R['steps'].items()}
    print(json.dumps(R['over_bf16'], indent=1))
    Path(os.environ.get('OUT', '/tmp'), out).write_text(json.dumps(R, indent=1))


def decode_problem(rows: int, mixed: bool, kvh: int = 8, heads: int = 16, d: int = 128, bs: int = 16):
    "A decode batch of qwen3-0.6b's heads: `rows` contexts (uniform in 100-2,047 if `mixed`, else 1,024) over blocks placed at random; (lens, meta, q, k, v), K/V bfloat16."
    from nano_serve.cache import AttentionMetadata, scattered_block_tables
    g = torch.Generator().manual_seed(rows)
    lens = torch.randint(100, 2048, (rows,), generator=g).tolist() if mixed else [1024] * rows
    nblk = sum(-(-n // bs) for n in lens) + 8
    meta = AttentionMetadata.build(scattered_block_tables(lens, bs, nblk), [n - 1 for n in lens], lens, bs, 'cuda')
    q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
    k = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16)
    return lens, meta, q, k, torch.randn_like(k)
