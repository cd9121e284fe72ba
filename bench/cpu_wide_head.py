"""Issue 13: the compiled one-row step with the output head through MKL over `[in, out]` weights (`PackedLinear.wide`),
against the same step with the head as inductor's reduction over row-major weights, two engines in one process.

    python bench/cpu_wide_head.py [--blocks 12] [--steps 15]

Both engines (`cpu_compile=True`, the bundled model, float32) decode one request of 128 prompt tokens; blocks of
`--steps` steps alternate between them, so a drift of this shared machine's speed touches both alike. Reports the
greedy tokens of two prompts from each (must be equal) and each block's median step.
"""
import argparse, json, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.model import PackedLinear


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--blocks', type=int, default=12); ap.add_argument('--steps', type=int, default=15)
    a = ap.parse_args()
    default = PackedLinear.wide
    PackedLinear.wide = 10**9; before = LLM(max_num_seqs=4, cpu_compile=True)   # no matrix counts as wide: all reductions
    PackedLinear.wide = default; after = LLM(max_num_seqs=4, cpu_compile=True)
    assert after.core.runner.model.lm_head.weight_t is not None and before.core.runner.model.lm_head.weight_t is None
    engines, tokens, res = {'head as a reduction': before, 'head through MKL': after}, {}, {}
    for name, llm in engines.items():
        o = llm.generate(['Write a poem about the sea.', 'def fib(n):'], SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
        tokens[name] = [x.outputs[0].token_ids for x in o]
        llm.add_request(list(range(100, 228)), SamplingParams(temperature=0, max_tokens=a.blocks * a.steps + 10, ignore_eos=True))
        for _ in range(3): llm.step()
        res[name] = []
    for _ in range(a.blocks):
        for name, llm in engines.items():
            ts = []
            for _ in range(a.steps): t = time.perf_counter(); llm.step(); ts.append(time.perf_counter() - t)
            res[name].append(round(statistics.median(ts) * 1e3, 2))
    from cpu_peers import lscpu
    b, f = res['head as a reduction'], res['head through MKL']
    print(json.dumps({'cpu': lscpu(), 'same_tokens': len(set(map(str, tokens.values()))) == 1, 'block_median_ms': res,
                      'median_ms': {k: statistics.median(v) for k, v in res.items()},
                      'ratio_per_block': [round(y / x, 3) for x, y in zip(b, f)]}, indent=1))


if __name__ == '__main__': main()
