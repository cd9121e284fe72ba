"""Prompt-lookup speculation on the GPU: the same greedy tokens as the plain engine (Triton attention; speculative
steps run eagerly, plain decode steps replay CUDA graphs), and what it does to steps and time.

    python bench/speculative_gpu.py [--model qwen3-0.6b]     # random weights of the real shape, bf16
"""
import json, os, random, sys, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve import LLM, SamplingParams

model = sys.argv[sys.argv.index('--model') + 1] if '--model' in sys.argv else 'qwen3-0.6b'
rng = random.Random(0)
# prompts that repeat a phrase (what prompt lookup is for) and prompts that do not
prompts = [[rng.randrange(100, 30000) for _ in range(rng.randint(8, 24))] * rng.randint(3, 8) for _ in range(32)]
prompts += [[rng.randrange(100, 30000) for _ in range(rng.randint(50, 300))] for _ in range(32)]
params = SamplingParams(temperature=0, max_tokens=128, ignore_eos=True)
res = {'gpu': torch.cuda.get_device_name(0), 'model': model, 'requests': len(prompts), 'max_tokens': 128}
outs = {}
for name, cfg in [('plain', None), ('ngram', {'method': 'ngram', 'num_speculative_tokens': 4})]:
    llm = LLM(model, load_format='dummy', device='cuda', enable_prefix_caching=False, speculative_config=cfg)
    llm.generate(prompts[:4], params, use_tqdm=False)                                  # warm-up (graphs, compile)
    c0 = dict(llm.core.metrics.counters); torch.cuda.synchronize(); t0 = time.perf_counter()
    outs[name] = [o.outputs[0].token_ids for o in llm.generate(prompts, params, use_tqdm=False)]
    torch.cuda.synchronize(); dt = time.perf_counter() - t0
    c = llm.core.metrics.counters
    res[name] = dict(seconds=round(dt, 3), output_tok_s=round(sum(map(len, outs[name])) / dt, 1), steps=c['steps'] - c0.get('steps', 0),
                     draft_tokens=c['draft_tokens'] - c0.get('draft_tokens', 0), accepted_tokens=c['accepted_tokens'] - c0.get('accepted_tokens', 0))
    llm.core.allocator.assert_idle()
    del llm; torch.cuda.empty_cache()
res['same_tokens'] = sum(a == b for a, b in zip(outs['plain'], outs['ngram']))
res['first_difference'] = next(([i, next(j for j, (x, y) in enumerate(zip(a, b)) if x != y)] for i, (a, b) in enumerate(zip(outs['plain'], outs['ngram'])) if a != b), None)
print(json.dumps(res, indent=1))
if os.environ.get('OUT'): Path(os.environ['OUT'], 'speculative-gpu.json').write_text(json.dumps(res, indent=1))
