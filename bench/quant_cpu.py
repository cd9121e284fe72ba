"""Issue 16 on the CPU: quality and speed of each quantization method on the bundled model, one run, same prompts.

    python bench/quant_cpu.py [--out bench/results/quant-cpu.json] [--rounds 2]

Per method (float32, bfloat16, int8, int4, float32 with an FP8 KV cache; float32 and int8 with the compiled decode step): perplexity on nbs/data/eval-english.txt; greedy tokens of twelve prompts against
float32 (how many identical, where the first divergence falls); batch-1 tok/s (a 90-token prompt, 64 new tokens; and the 63 after the first alone, the prefill left out);
16 requests of 90 tokens in, 32 out, all at once (output tok/s, prefill included). Methods alternate within each round.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path

import torch
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.quantization import perplexity

PROMPTS = ['The capital of France is', 'def fibonacci(n):', 'Once upon a time', 'The three primary colors are',
           'To make a cup of tea, first', 'import numpy as np\n', 'The largest planet in the solar system',
           'Dear Sir or Madam,', 'In 1969, humans', 'The recipe calls for', 'Q: What is 12 times 7?\nA:', 'Photosynthesis is']
METHODS = [('float32', {}), ('bfloat16', {'dtype': 'bfloat16'}), ('int8', {'quantization': 'int8'}), ('int4', {'quantization': 'int4'}),
           ('fp8 KV cache', {'kv_cache_dtype': 'fp8'}), ('float32 compiled', {'cpu_compile': True}),
           ('int8 compiled', {'quantization': 'int8', 'cpu_compile': True})]


def cpu() -> dict:
    "The CPU's model name and its vector extensions, from lscpu."
    info = dict(l.split(':', 1) for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines() if ':' in l)
    flags = info.get('Flags', '').split()
    return {'model': info.get('Model name', '').strip(), 'cores': torch.get_num_threads(),
            'isa': [f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8') if f in flags]}


def fp8_cache_attention(layer, q, k, v):
    "Causal attention over K/V rounded to e4m3, as an FP8 cache hands them back (for perplexity in one pass)."
    from nano_serve.model import causal_attention
    from nano_serve.cache import to_cache_dtype
    r = lambda t: to_cache_dtype(t, torch.float8_e4m3fn).to(t.dtype)
    return causal_attention(layer, q, r(k), r(v))


def measure(name: str, kw: dict, text_ids) -> dict:
    llm = LLM(**{'dtype': 'float32', **kw})
    greedy = SamplingParams(temperature=0, max_tokens=32, ignore_eos=True)
    out = {'tokens': [o.outputs[0].token_ids for o in llm.generate(PROMPTS, greedy, use_tqdm=False)],
           'perplexity': perplexity(llm.core.model, text_ids, fp8_cache_attention if kw.get('kv_cache_dtype') == 'fp8' else None),
           'paths': llm.core.paths()}
    p = [[1, 2, 3] * 30]
    llm.generate(p, SamplingParams(temperature=0, max_tokens=8, ignore_eos=True), use_tqdm=False)
    t = time.perf_counter(); llm.generate(p, SamplingParams(temperature=0, max_tokens=64, ignore_eos=True), use_tqdm=False)
    t64 = time.perf_counter() - t
    out['bs1_tok_s'] = 64 / t64
    t = time.perf_counter(); llm.generate(p, SamplingParams(temperature=0, max_tokens=1), use_tqdm=False)
    out['bs1_decode_tok_s'] = 63 / (t64 - (time.perf_counter() - t))   # the 63 tokens after the first: the prompt's prefill left out
    p16 = [[i + 10, 2, 3] * 30 for i in range(16)]
    t = time.perf_counter(); llm.generate(p16, SamplingParams(temperature=0, max_tokens=32, ignore_eos=True), use_tqdm=False)
    out['c16_out_tok_s'] = 16 * 32 / (time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--out', default=str(ROOT / 'bench/results/quant-cpu.json'))
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--methods', default=','.join(n for n, _ in METHODS), help='comma-separated names from METHODS (float32 first: the others are compared to it)')
    a = ap.parse_args()
    methods = [(n, q) for n, q in METHODS if n in a.methods.split(',')]
    from nano_serve.model import load_tokenizer, resolve_model_source
    tok = load_tokenizer(*resolve_model_source(None, 'auto'))
    ids = torch.tensor(tok.encode((ROOT / 'nbs/data/eval-english.txt').read_text()))
    rounds = []
    for r in range(a.rounds):
        rounds.append({name: measure(name, q, ids) for name, q in methods})
        print({k: {m: round(v[m], 2) for m in ('perplexity', 'bs1_tok_s', 'bs1_decode_tok_s', 'c16_out_tok_s')} for k, v in rounds[-1].items()}, flush=True)
    ref = rounds[0]['float32']['tokens']
    for name, _ in methods:
        toks = rounds[0][name]['tokens']
        firsts = [next((i for i, (x, y) in enumerate(zip(a1, b1)) if x != y), None) for a1, b1 in zip(ref, toks)]
        rounds[0][name]['greedy_vs_float32'] = {'identical': sum(f is None for f in firsts), 'of': len(firsts), 'first_divergence': firsts}
    res = {'cpu': cpu(), 'date': time.strftime('%Y-%m-%d'), 'torch': torch.__version__, 'rounds': rounds,
           'command': 'python bench/quant_cpu.py'}
    Path(a.out).write_text(json.dumps(res, indent=1))
    print({n: rounds[0][n]['greedy_vs_float32'] for n, _ in methods})


if __name__ == '__main__': main()
