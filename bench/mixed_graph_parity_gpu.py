"""Steps with prefills replayed as CUDA graphs give the eager engine's tokens (random weights of a real shape).

    python bench/mixed_graph_parity_gpu.py [model]

The same 48 prompts (200 tokens on average, chunked by a 2,048-token budget, so most steps mix prefills and decode
rows), greedy, with `CUDAGraphMixed` on and off, in float32 (where ties between random-weight logits are rare) and
bfloat16 (where a different cuBLAS algorithm for the padded shape may flip a near-tie). Prints identical outputs
per dtype and how many steps each mode replayed as a mixed graph.
"""
import gc, sys, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.bench import random_token_workload

def generate(model: str, dtype: str, graphs: bool) -> list:
    "Greedy outputs of the workload, with mixed-step graphs on or off (everything freed on return)."
    llm = LLM(model, load_format='dummy', dtype=dtype, max_num_seqs=64, max_num_batched_tokens=2048, gpu_memory_utilization=0.4)
    runner, replays = llm.core.runner, [0]
    if not graphs: runner.mixed_graphs = None
    else:
        run = runner.mixed_graphs.run
        def counted(x): replays[0] += 1; return run(x)
        runner.mixed_graphs.run = counted
    wl = random_token_workload(48, 200, 48, 0.5, 3, llm.core.model.config.vocab_size)
    params = [SamplingParams(temperature=0, max_tokens=m, ignore_eos=True) for _, m in wl]
    outs = [o.outputs[0].token_ids for o in llm.generate([p for p, _ in wl], params, use_tqdm=False)]
    llm.core.allocator.assert_idle()
    print(dtype, 'graphs' if graphs else 'eager', llm.stats()['num_steps'], 'steps,', replays[0], 'mixed-graph replays', flush=True)
    return outs

model = sys.argv[1] if len(sys.argv) > 1 else 'qwen3-0.6b'
for dtype in ('float32', 'bfloat16'):
    outs = []
    for graphs in (False, True):
        outs.append(generate(model, dtype, graphs)); gc.collect(); torch.cuda.empty_cache()
    same = sum(a == b for a, b in zip(*outs))
    first = [next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None) for a, b in zip(*outs)]
    print(f'{dtype}: {same}/{len(outs[0])} outputs identical; first differing token of the others: {[f for f in first if f is not None]}', flush=True)
