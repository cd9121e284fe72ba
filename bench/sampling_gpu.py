"""Sampled decoding on the GPU: what a sampled request costs against a greedy one, before and after batched draws.

    python bench/sampling_gpu.py [--model qwen3-0.6b]       # writes sampling-gpu.json under $OUT

Random weights of the real shape, bf16, 256 prompt + 256 output tokens, batch 1, 8, 32 and 64: greedy, sampled
(temperature 0.8, top-p 0.95) without and with a seed, each with the sampler as built (`06a_sampler`: one batched
draw, counter-based random numbers) and with the sampler as it was (a `torch.Generator` per request and
`torch.multinomial` one row at a time, put back here for the comparison). Greedy runs before and after agree.
Then each stage of the sampler alone on random logits, and the whole sampler with its CUDA graphs (`06b`'s
`GraphedDraws`) and without (the graphed tokens must equal the eager ones).
"""
import json, os, random, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve import LLM, SamplingParams
from nano_serve.sampler import Sampler, filter_probs

model = sys.argv[sys.argv.index('--model') + 1] if '--model' in sys.argv else 'qwen3-0.6b'
rng, N_OUT = random.Random(0), 256
llm = LLM(model, load_format='dummy', device='cuda', enable_prefix_caching=False, num_kv_blocks=8000, max_num_seqs=64)

def per_request_generators(self, logits, chunks):
    "The sampler as it was: one generator per request, one multinomial per sampled row."
    tokens, rand = logits.argmax(-1), [i for i, c in enumerate(chunks) if not c.params.greedy]
    if rand:
        dev, p = logits.device, [chunks[i].params for i in rand]
        col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt).to(dev, non_blocking=True)
        probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                             col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32),
                             truncate=any(x.top_k > 0 or x.top_p < 1 for x in p), use_min_p=any(x.min_p > 0 for x in p))
        gens = self.__dict__.setdefault('generators', {})
        for j, i in enumerate(rand):
            c = chunks[i]
            if c.request_id not in gens:
                gens[c.request_id] = torch.Generator(device=dev).manual_seed(c.params.seed if c.params.seed is not None else hash(c.request_id) % 2**63)
            tokens[i] = torch.multinomial(probs[j], 1, generator=gens[c.request_id])[0]
    return tokens

def timed(prompts, p):
    llm.generate(prompts, SamplingParams(temperature=0, max_tokens=8, ignore_eos=True), use_tqdm=False)
    torch.cuda.synchronize(); t0 = time.perf_counter()
    outs = [o.outputs[0].token_ids for o in llm.generate(prompts, p, use_tqdm=False)]
    torch.cuda.synchronize(); dt = time.perf_counter() - t0
    llm.core.allocator.assert_idle()
    return dict(seconds=round(dt, 3), tok_s=round(sum(map(len, outs)) / dt, 1), ms_per_step=round(1e3 * dt / N_OUT, 3)), outs

kinds = {'greedy': SamplingParams(temperature=0, max_tokens=N_OUT, ignore_eos=True),
         'sampled': SamplingParams(temperature=0.8, top_p=0.95, max_tokens=N_OUT, ignore_eos=True),
         'sampled_seeded': SamplingParams(temperature=0.8, top_p=0.95, max_tokens=N_OUT, ignore_eos=True, seed=1)}
res = {'gpu': torch.cuda.get_device_name(0), 'model': model, 'max_tokens': N_OUT, 'prompt_tokens': 256,
       'async_scheduling': llm.core.async_scheduling, 'runs': {}}
built = Sampler.sample_on_device
for bs in (1, 8, 32, 64):
    ps = [[rng.randrange(1000, 100000) for _ in range(256)] for _ in range(bs)]
    row = {}
    for name, p in kinds.items():
        for version, fn in (('batched', built), ('per_request', per_request_generators)):
            if name == 'greedy' and version == 'per_request': continue
            Sampler.sample_on_device = fn
            row[f'{name}/{version}'], outs = timed(ps, p)
            Sampler.sample_on_device = built
            if name == 'sampled_seeded' and version == 'batched':
                row[f'{name}/{version}']['reproduced'] = timed(ps, p)[1] == outs    # a seed gives the same tokens again
    row['greedy/again'] = timed(ps, kinds['greedy'])[0]
    res['runs'][bs] = row
    print(bs, json.dumps(row), flush=True)
# where a sampled step's extra time goes: each stage of the batched sampler alone, float32 logits of the real vocabulary
from nano_serve.sampler import columns, filtered, uniforms, draw
from nano_serve.scheduler import Chunk
def gpu_ms(fn, n=50):
    fn(); torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(n): fn()
    b.record(); torch.cuda.synchronize()
    return round(a.elapsed_time(b) / n, 4)
V = llm.core.model.config.vocab_size
res['stages_ms'], sampler = {}, llm.core.runner.sampler
res['graphed_sampler'] = sampler.graphed is not None
for bs in (1, 32):
    lg = torch.randn(bs, V, device='cuda') * 3
    for name, p in (('top_p', kinds['sampled']), ('temperature_only', SamplingParams(temperature=0.8, max_tokens=8))):
        chunks = [Chunk(f'r{i}', (1,), 300, [0], True, p, True) for i in range(bs)]
        cols = columns(chunks, 0, 'cuda'); probs = filtered(lg, chunks, cols); u = uniforms(cols['key'], cols['position'])
        res['stages_ms'][f'{bs}/{name}'] = dict(
            columns=gpu_ms(lambda: columns(chunks, 0, 'cuda')), filter_probs=gpu_ms(lambda: filtered(lg, chunks, cols)),
            uniforms=gpu_ms(lambda: uniforms(cols['key'], cols['position'])), draw=gpu_ms(lambda: draw(probs, u)),
            sort_alone=gpu_ms(lambda: lg.sort(dim=-1, descending=True)), softmax_alone=gpu_ms(lambda: torch.softmax(lg, -1)),
            whole_graphed=gpu_ms(lambda: sampler.sample_on_device(lg, chunks)), argmax=gpu_ms(lambda: lg.argmax(-1)))
        graphed_tokens = sampler.sample_on_device(lg, chunks)
        sampler.graphed, keep = None, sampler.graphed
        res['stages_ms'][f'{bs}/{name}'].update(whole_eager=gpu_ms(lambda: sampler.sample_on_device(lg, chunks)),
                                                graphed_equals_eager=bool(torch.equal(graphed_tokens, sampler.sample_on_device(lg, chunks))))
        sampler.graphed = keep
        print(bs, name, res['stages_ms'][f'{bs}/{name}'], flush=True)
print(json.dumps(res, indent=1))
if os.environ.get('OUT'): Path(os.environ['OUT'], 'sampling-gpu.json').write_text(json.dumps(res, indent=1))
