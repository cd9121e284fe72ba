"""Speculative decoding on the GPU: when it pays, measured (issue 20). Random weights of the real shape, bf16.

    python bench/speculative_gpu.py [--model qwen3-0.6b]       # writes speculative-oracle-gpu.json under $OUT

1. The cost curve: `OracleProposer` (06g_speculative) proposes each request's true greedy continuation, each token
   right with probability `accuracy`, always k = 4 tokens (`adaptive: False`); speedup over plain decoding at batch
   1, 8 and 32, against the acceptance measured. Random weights have flat logits, so any difference in rounding
   between a decode step and a verification step parts the continuations within a few tokens (measured: 0 of 1
   identical at batch 1). Here the attention and MLP output projections are zeroed after loading (`echo`): every
   kernel still runs at full size, but the model repeats its input token by a wide margin, so every path agrees on
   the continuation. Plain runs before and after each batch's curve.
   The same with the gate on (`adaptive`, the default; a fresh gate per run) at accuracy 0, 0.7 and 0.9.
2. Prompt lookup at batch 1 on prompts that repeat a phrase (random weights: the acceptance is what it is; reported).
3. The draft-model method at batch 1 with a draft of the target's own shape and weights (a correctness check of the
   path on the GPU, not a speedup: the draft costs what the target costs), and with a 2-layer draft of the target's
   vocabulary, both as echo models (every guess right): what the method buys when the draft is cheap and right,
   at batch 1 and 8.
Every speculative run's greedy tokens are compared with the plain run's.

    python bench/speculative_gpu.py --gate     # writes speculative-gate-gpu.json: part 1's gate runs only, and
       sampled verification at batch 32 (accuracy 0.9, k = 4, drafting always on) against plain sampled decoding of
       the same requests
"""
import json, os, random, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve import LLM, SamplingParams
from nano_serve.speculative import OracleProposer, SpeculationGate, Hindsight

model = sys.argv[sys.argv.index('--model') + 1] if '--model' in sys.argv else 'qwen3-0.6b'
GATE_ONLY = '--gate' in sys.argv
rng, K, N_OUT = random.Random(0), 4, 256
params = SamplingParams(temperature=0, max_tokens=N_OUT, ignore_eos=True)
kw = dict(load_format='dummy', device='cuda', enable_prefix_caching=False, num_kv_blocks=6000, max_num_seqs=64)

def timed(llm, prompts, p=params):
    "One warm-up, then one timed run of `prompts`: (numbers, greedy token lists)."
    llm.generate(prompts, SamplingParams(temperature=0, max_tokens=8, ignore_eos=True), use_tqdm=False)
    c0 = dict(llm.core.metrics.counters); torch.cuda.synchronize(); t0 = time.perf_counter()
    outs = [o.outputs[0].token_ids for o in llm.generate(prompts, p, use_tqdm=False)]
    torch.cuda.synchronize(); dt = time.perf_counter() - t0
    d = lambda k: llm.core.metrics.counters[k] - c0.get(k, 0)
    llm.core.allocator.assert_idle()
    return dict(seconds=round(dt, 3), tok_s=round(sum(map(len, outs)) / dt, 1), steps=d('steps'), draft=d('draft_tokens'),
                accepted=d('accepted_tokens')), outs

same = lambda a, b: sum(x == y for x, y in zip(a, b))

def echo(llm):
    "Zero every attention and MLP output projection: the model repeats its input token; the kernels run as before."
    for name, m in llm.core.model.named_modules():
        if name.endswith(('o_proj', 'down_proj')): m.weight.data.zero_()
    return llm
res = {'gpu': torch.cuda.get_device_name(0), 'model': model, 'k': K, 'max_tokens': N_OUT, 'prompt_tokens': 256, 'curve': {}, 'plain': {}}
plain, natural = echo(LLM(model, **kw)), LLM(model, **kw)
oracle, oracle_gated = OracleProposer([], 0.0, num_tokens=K), OracleProposer([], 0.0, num_tokens=K)
spec = echo(LLM(model, speculative_config={'method': oracle, 'adaptive': False}, **kw))
gated = echo(LLM(model, speculative_config={'method': oracle_gated}, **kw))
res['paths'], res['gated'], res['reference_check'] = spec.core.paths(), {}, {}
for bs in (1, 8, 32):
    ps = [[rng.randrange(1000, 100000) for _ in range(256)] for _ in range(bs)]
    base, want = timed(plain, ps)
    ref = want              # the echo model's continuation: the speculative path must reproduce it, checked here
    oracle.refs = oracle_gated.refs = {tuple(p[:oracle.key_len]): p + o for p, o in zip(ps, ref)}
    oracle.accuracy = 1.0
    res['reference_check'][bs] = dict(same_outputs=same(timed(spec, ps)[1], ref))
    pts = []
    for oracle.accuracy in () if GATE_ONLY else (0.0, 0.5, 0.7, 0.9, 1.0):
        r, got = timed(spec, ps)
        pts.append(dict(accuracy=oracle.accuracy, acceptance=round(r['accepted'] / max(r['draft'], 1), 3),
                        speedup=round(r['tok_s'] / base['tok_s'], 3), same_outputs=same(got, ref), **r))
        print(bs, pts[-1], flush=True)
    res['gated'][bs] = []
    for oracle_gated.accuracy in (0.0, 0.7, 0.9):
        reps = []
        for _ in range(3 if GATE_ONLY else 1):   # the gate's choices follow measured times: runs differ, so three of each
            gated.core.gate, gated.core.hindsight = SpeculationGate(), Hindsight(oracle_gated)      # each workload learned afresh
            r, _ = timed(gated, ps)
            reps.append(dict(speedup=round(r['tok_s'] / base['tok_s'], 3), checked_in_hindsight=gated.core.hindsight.scored, **r))
        reps.sort(key=lambda x: x['speedup'])
        res['gated'][bs].append(dict(accuracy=oracle_gated.accuracy, **reps[len(reps) // 2], speedups=[x['speedup'] for x in reps]))
        print(bs, 'gated', res['gated'][bs][-1], flush=True)
    res['plain'][bs] = [base, timed(plain, ps)[0]]
    res['curve'][bs] = pts
    if GATE_ONLY and bs == 32:   # sampled verification: one host copy a step against one host read per request
        hot = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=N_OUT, ignore_eos=True, seed=1)
        oracle.accuracy, rows = 0.9, {}
        rows['plain_sampled'] = timed(plain, ps, hot)[0]
        rows['speculative_sampled'] = timed(spec, ps, hot)[0]
        rows['plain_sampled_again'] = timed(plain, ps, hot)[0]
        for r in rows.values(): r['acceptance'] = round(r['accepted'] / max(r['draft'], 1), 3)
        res['sampled_verification_batch32'] = rows
        print('sampled', rows, flush=True)
del spec, gated; torch.cuda.empty_cache()
if GATE_ONLY:
    print(json.dumps(res, indent=1))
    if os.environ.get('OUT'): Path(os.environ['OUT'], 'speculative-gate-gpu.json').write_text(json.dumps(res, indent=1))
    sys.exit()

# prompt lookup at batch 1 on prompts that repeat a phrase
rep = [[rng.randrange(1000, 30000) for _ in range(rng.randint(8, 24))] * 8 for _ in range(4)]
ngram = LLM(model, speculative_config={'method': 'ngram', 'num_speculative_tokens': K}, **kw)
res['ngram_batch1'] = []
for p in rep:
    a, wa = timed(natural, [p]); b, wb = timed(ngram, [p])
    res['ngram_batch1'].append(dict(plain=a, ngram=b, speedup=round(b['tok_s'] / a['tok_s'], 3),
                                    acceptance=round(b['accepted'] / max(b['draft'], 1), 3), same_outputs=same(wa, wb)))
    print(res['ngram_batch1'][-1], flush=True)
del ngram; torch.cuda.empty_cache()

# the draft-model path on the GPU: the target's own shape and (deterministic dummy) weights as the draft
dm = LLM(model, speculative_config={'method': 'draft_model', 'model': model, 'load_format': 'dummy', 'num_speculative_tokens': K,
                                    'adaptive': False}, **kw)
p1 = [[rng.randrange(1000, 100000) for _ in range(256)]]
a, wa = timed(natural, p1, SamplingParams(temperature=0, max_tokens=64, ignore_eos=True))
b, wb = timed(dm, p1, SamplingParams(temperature=0, max_tokens=64, ignore_eos=True))
hot = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=64, ignore_eos=True, seed=1)
c, _ = timed(dm, p1 * 4, hot)
res['draft_model_batch1'] = dict(plain=a, draft_model=b, same_outputs=same(wa, wb), acceptance=round(b['accepted'] / max(b['draft'], 1), 3),
                                 sampled_batch4=c, sampled_acceptance=round(c['accepted'] / max(c['draft'], 1), 3))
print(res['draft_model_batch1'], flush=True)
del dm; torch.cuda.empty_cache()

# a cheap draft: 2 layers of the target's width and vocabulary (an HF folder written by transformers), both echo models
from transformers import AutoConfig, AutoModelForCausalLM
cfg = AutoConfig.for_model(**{**json.loads((Path(__file__).resolve().parent.parent / 'nano_serve/configs' / f'{model}.json').read_text()),
                              'num_hidden_layers': 2})
small = Path('/tmp/draft-2layer'); AutoModelForCausalLM.from_config(cfg).save_pretrained(small)
echo_plain = echo(LLM(model, **kw))
cheap = LLM(model, speculative_config={'method': 'draft_model', 'model': str(small), 'num_speculative_tokens': K}, **kw)
echo(cheap); echo_model = cheap.core.drafter.runner.model
for name, m in echo_model.named_modules():
    if name.endswith(('o_proj', 'down_proj')): m.weight.data.zero_()
res['cheap_draft'] = {}
for bs in (1, 8):
    ps = [[rng.randrange(1000, 100000) for _ in range(256)] for _ in range(bs)]
    a, wa = timed(echo_plain, ps); b, wb = timed(cheap, ps)
    res['cheap_draft'][bs] = dict(plain=a, draft_model=b, speedup=round(b['tok_s'] / a['tok_s'], 3), same_outputs=same(wa, wb),
                                  acceptance=round(b['accepted'] / max(b['draft'], 1), 3), draft_paths=cheap.core.drafter.runner.graphs is not None)
    print('cheap draft', bs, res['cheap_draft'][bs], flush=True)
print(json.dumps(res, indent=1))
if os.environ.get('OUT'): Path(os.environ['OUT'], 'speculative-oracle-gpu.json').write_text(json.dumps(res, indent=1))
