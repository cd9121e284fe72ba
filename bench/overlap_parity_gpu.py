"""Overlapped scheduling on the GPU gives the plain engine's tokens: greedy and seeded, random weights of a real shape.

    python bench/overlap_parity_gpu.py [model]
"""
import gc, sys, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.bench import random_token_workload

model = sys.argv[1] if len(sys.argv) > 1 else 'qwen3-0.6b'
outs = []
for ahead in (False, True):
    llm = LLM(model, load_format='dummy', max_num_seqs=64, max_num_batched_tokens=2048, gpu_memory_utilization=0.4, async_scheduling=ahead)
    wl = random_token_workload(48, 200, 48, 0.5, 3, llm.core.model.config.vocab_size)
    params = [SamplingParams(temperature=0, max_tokens=m, ignore_eos=True) if i % 2 else SamplingParams(temperature=0.9, top_p=0.9, seed=i, max_tokens=m)
              for i, (_, m) in enumerate(wl)]
    outs.append([o.outputs[0].token_ids for o in llm.generate([p for p, _ in wl], params, use_tqdm=False)])
    llm.core.allocator.assert_idle()
    print('async' if ahead else 'plain', llm.stats()['num_steps'], 'steps', flush=True)
    del llm; gc.collect(); torch.cuda.empty_cache()
same = sum(a == b for a, b in zip(*outs))
print(f'overlap parity: {same}/{len(outs[0])} outputs identical')
