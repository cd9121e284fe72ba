"""The GPU suite of issue 7, in one run: ceilings, correctness of the Triton/CUDA-graph path, decode at batch 1
(llama-3.1-8b shape), throughput at the qwen3-0.6b and llama-3.1-8b shapes, and transformers' generate() baseline.
All models use random weights of the real shapes (load_format='dummy'), bf16, outputs forced to full length.

    python bench/gpu_suite.py [--quick]      # writes $OUT/gpu_suite.json (and bench/results/<gpu>-<date>.json)
"""
import gc, json, os, random, sys, time, traceback
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.bench import random_token_workload, run_offline, run_hf_generate, machine
from nano_serve.cache import AttentionMetadata, PagedAttention, scattered_block_tables

QUICK = '--quick' in sys.argv
R = {'machine': machine(), 'gpu': torch.cuda.get_device_name(0), 'quick': QUICK}


def log(key, value):
    print(f'{key}: {value}', flush=True)


def section(name):
    "Run a section, recording its result or its error, so one failure does not lose the others."
    def wrap(fn):
        t0 = time.perf_counter()
        try: R[name] = fn()
        except Exception as e:
            traceback.print_exc(); R[name] = {'error': repr(e)[:500]}
        log(name, json.dumps(R[name])[:800])
        log(f'{name}.seconds', round(time.perf_counter() - t0, 1))
        gc.collect(); torch.cuda.empty_cache()
    return wrap


@section('hbm')
def _():
    x = torch.empty(2 * 1024**3, dtype=torch.uint8, device='cuda'); y = torch.empty_like(x)
    for _ in range(3): y.copy_(x)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(10): y.copy_(x)
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 10
    return {'copy_TBps': 2 * x.numel() / dt / 1e12}


@section('correctness')
def _():
    "Logits of the Triton path against the PyTorch reference, and greedy tokens of graph replay against eager."
    from nano_serve.kernels import paged_attention_triton
    llm = LLM('qwen3-0.6b', load_format='dummy', num_kv_blocks=512, max_num_seqs=16, enforce_eager=True)
    m, c = llm.core.model, llm.core.cache
    lens = [1, 17, 300, 1000]
    tables = scattered_block_tables(lens, 16, 512)
    meta = AttentionMetadata.build(tables, [0] * 4, lens, 16, 'cuda')
    ids = torch.randint(0, 150000, (sum(lens),), device='cuda')
    pos = torch.cat([torch.arange(n) for n in lens]).cuda()
    with torch.inference_mode():
        ref = m.compute_logits(m(ids, pos, PagedAttention(c, meta)))
        tri = m.compute_logits(m(ids, pos, PagedAttention(c, meta, paged_attention_triton)))
    rel = ((tri - ref).norm() / ref.norm()).item()
    wl = random_token_workload(16, 64, 32, 0.5, seed=1, vocab_size=150000)
    params = [SamplingParams(temperature=0, max_tokens=n, ignore_eos=True) for _, n in wl]
    del llm; gc.collect(); torch.cuda.empty_cache()
    # graph replay against eager with the same fused kernels: only the CUDA graph differs between the two runs
    llm = LLM('qwen3-0.6b', load_format='dummy', num_kv_blocks=512, max_num_seqs=16, enforce_eager=True)
    llm.core.model.compile_fusions()
    eager = [o.outputs[0].token_ids for o in llm.generate([p for p, _ in wl], params, use_tqdm=False)]
    del llm; gc.collect(); torch.cuda.empty_cache()
    g = LLM('qwen3-0.6b', load_format='dummy', num_kv_blocks=512, max_num_seqs=16)
    graph = [o.outputs[0].token_ids for o in g.generate([p for p, _ in wl], params, use_tqdm=False)]
    same = [a == b for a, b in zip(eager, graph)]
    prefix = [next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None) for a, b in zip(eager, graph)]
    return {'triton_vs_ref_logits_rel_err': rel, 'graph_vs_eager_equal': sum(same), 'of': len(same), 'first_divergence': prefix}


def decode_bs1(model, prompt_len=128, new=256):
    llm = LLM(model, load_format='dummy', max_num_seqs=8)
    p = [random.Random(0).randrange(100, 30000) for _ in range(prompt_len)]
    llm.generate([p], SamplingParams(temperature=0, max_tokens=16, ignore_eos=True), use_tqdm=False)   # warm-up
    llm.add_request(p, SamplingParams(temperature=0, max_tokens=new, ignore_eos=True))
    t0 = time.perf_counter(); first = None
    while llm.has_unfinished():
        for o in llm.step():
            if first is None: first = time.perf_counter()
    torch.cuda.synchronize(); t1 = time.perf_counter()
    step = (t1 - first) / (new - 1)
    wbytes = sum(x.numel() * x.element_size() for x in llm.core.model.parameters())
    cfg = llm.core.model.config
    kv_per_tok = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * (getattr(cfg, 'head_dim', None) or cfg.hidden_size // cfg.num_attention_heads) * 2
    kv_read = kv_per_tok * (prompt_len + new / 2)
    res = {'model': model, 'tok_s': 1 / step, 'step_ms': step * 1e3, 'ttft_ms': (first - t0) * 1e3,
           'weight_GB': wbytes / 1e9, 'bytes_per_step_GB': (wbytes + kv_read) / 1e9,
           'mbu': (wbytes + kv_read) / step / (R['hbm']['copy_TBps'] * 1e12)}
    del llm
    return res


@section('decode_bs1')
def _():
    return decode_bs1('llama-3.1-8b')


@section('decode_bs1_qwen3_0_6b')
def _():
    return decode_bs1('qwen3-0.6b')


def throughput(model, num, inp, out, ratio, seed=0, **kw):
    llm = LLM(model, load_format='dummy', max_num_seqs=256, max_num_batched_tokens=8192, **kw)
    wl = random_token_workload(num, inp, out, ratio, seed, llm.core.model.config.vocab_size)
    run_offline(llm, random_token_workload(32, inp, 16, ratio, seed + 1, llm.core.model.config.vocab_size))  # warm-up: compile, capture
    res = run_offline(llm, wl, warmup=False)
    res.update(model=model, num_prompts=num, input_len=inp, output_len=out, range_ratio=ratio, kv_blocks=llm.core.allocator.num_blocks,
               preemptions=llm.stats()['num_preemptions'], steps=llm.stats()['num_steps'],
               mean_forward_ms=llm.stats()['mean_forward_ms'], mean_schedule_ms=llm.stats()['mean_schedule_ms'])
    del llm
    return res, wl


def hf_generate(model, wl, batch=64):
    "transformers' batched generate on the workload (nano_serve.bench.run_hf_generate); useful output tok/s."
    from transformers import AutoModelForCausalLM
    from nano_serve.model import load_config, resolve_model_source
    cfg = load_config(*resolve_model_source(model, 'dummy'))
    with torch.device('cuda'):
        hf = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).eval()
    run_hf_generate(hf, None, [(list(range(100, 116)), 4)] * 2)   # warm-up
    res = run_hf_generate(hf, None, wl, batch)
    del hf
    return res['useful_tok_s']


@section('throughput_qwen3_0_6b')
def _():
    # nano-vllm's workload: 256 requests, input and output lengths uniform in [100, 1024]
    n = 64 if QUICK else 256
    res, wl = throughput('qwen3-0.6b', n, 562, 562, 462 / 562)
    gc.collect(); torch.cuda.empty_cache()
    res['hf_generate_output_tok_s'] = hf_generate('qwen3-0.6b', wl[:64 if QUICK else 128])
    res['speedup_vs_hf'] = res['output_tok_s'] / res['hf_generate_output_tok_s']
    return res


@section('throughput_llama_8b')
def _():
    res, _ = throughput('llama-3.1-8b', 128 if QUICK else 512, 1024, 128, 0.0)
    return res


def ceilings():
    "Roofline figures for the qwen3-0.6b throughput run."
    t = R.get('throughput_qwen3_0_6b', {})
    if 'output_tok_s' not in t: return {}
    params = 0.6e9 - 151936 * 1024  # non-embedding parameters (embedding read by index, not multiplied)
    flops_per_tok = 2 * params + 2 * 151936 * 1024 * (t['output_tokens'] / (t['input_tokens'] + t['output_tokens']))
    total = (t['input_tokens'] + t['output_tokens']) / t['seconds']
    return {'achieved_TFLOPs': total * flops_per_tok / 1e12, 'bf16_peak_TFLOPs_measured_on_probe': 790,
            'compute_ceiling_total_tok_s': 790e12 / flops_per_tok}


R['ceilings'] = ceilings()
print(json.dumps(R, indent=1))
name = f"{R['gpu'].replace(' ', '-')}-{time.strftime('%Y-%m-%d')}.json"
for d in [os.environ.get('OUT'), str(Path(__file__).parent / 'results')]:
    if d: Path(d).mkdir(parents=True, exist_ok=True); Path(d, 'gpu_suite.json' if d == os.environ.get('OUT') else name).write_text(json.dumps(R, indent=1))
