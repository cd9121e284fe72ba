"""Issue 13: the CPU decode step as one `torch.compile` graph (`cpu_compile=True`, 06b_runner) against the eager step, interleaved.

    python bench/cpu_compiled_decode.py [--rounds 6] [--quantization int8]

One engine on the bundled model with `cpu_compile=True`; its runner's `CompiledDecoder` is switched in and out between
rounds of 8 steps, so both ways run in one process, on one cache, alternating (this machine's neighbours share its
memory bus: figures from different minutes do not compare). Reports the start-up time (the compile), whether greedy
tokens are unchanged, and step medians and minima at 1 and 16 rows.
"""
import argparse, hashlib, json, statistics, time
from nano_serve.engine import LLM, SamplingParams


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('--quantization', default=None, help='int8: the weights 05b_quantization makes (only one-row steps compile then)')
    a = ap.parse_args()
    t0 = time.perf_counter(); llm = LLM(max_num_seqs=16, cpu_compile=True, quantization=a.quantization)
    res = {'quantization': a.quantization, 'start_s': round(time.perf_counter() - t0, 1)}
    runner = llm.core.runner
    compiled = runner.graphs

    def tokens():
        o = llm.generate(['Write a poem about the sea.', 'def fib(n):'], SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
        return hashlib.md5(str([x.outputs[0].token_ids for x in o]).encode()).hexdigest()[:8]
    runner.graphs = None; res['tokens_eager'] = tokens(); runner.graphs = compiled; res['tokens_compiled'] = tokens()
    for bs in (1, 16):
        p = SamplingParams(temperature=0, max_tokens=1000, ignore_eos=True)
        for i in range(bs): llm.add_request(list(range(100 + i, 228 + i)), p)
        for _ in range(3): llm.step()
        ts = {'eager': [], 'compiled': []}
        for _ in range(a.rounds):
            for mode in ts:
                runner.graphs = compiled if mode == 'compiled' else None
                llm.step()
                for _ in range(8):
                    t = time.perf_counter(); llm.step(); ts[mode].append(time.perf_counter() - t)
        for r in list(llm.core.scheduler.running) + list(llm.core.scheduler.waiting): llm.abort(r.request_id)
        res[f'bs{bs}'] = {m: {'median_ms': round(statistics.median(v) * 1e3, 2), 'min_ms': round(min(v) * 1e3, 2)} for m, v in ts.items()}
    from cpu_peers import lscpu   # this folder's side-by-side script: the CPU's model, vector extensions and cores
    print(json.dumps({'cpu': lscpu(), 'date': time.strftime('%Y-%m-%d %H:%M'), **res}, indent=1))


if __name__ == '__main__': main()
