"""Structured outputs against a live server: 50 prompts with a nested JSON schema, what validates and what it costs.

    python bench/structured_cpu.py [--out DIR] [--concurrency 16]

Starts `nano_serve_server` (the bundled SmolLM2, float32, CPU), then with the official openai client runs the 50
prompts of tests/test_structured.py three ways, one after the other: constrained by the schema (response_format
json_schema), the same streamed, and unconstrained (the contrast). Counts outputs that parse and validate
(jsonschema) and the output tokens per second of each run (usage.completion_tokens over the wall time).
Result: DIR/structured-cpu.json.
"""
import argparse, json, os, platform, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'tests'))
from test_structured import PROMPTS, FORMAT, MODEL, valid   # the same prompts and schema as the test


def cpu_name() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines() if l.startswith('Model name'))
    except Exception: return platform.processor()


def one(client, prompt: str, stream: bool, **kw) -> tuple[str, int]:
    "(text, output tokens) of one chat request."
    msgs = [{'role': 'user', 'content': prompt}]
    args = dict(model=MODEL, messages=msgs, temperature=0.7, seed=len(prompt), max_tokens=120, **kw)
    if not stream:
        r = client.chat.completions.create(**args)
        return r.choices[0].message.content, r.usage.completion_tokens
    text, n = '', 0
    for ev in client.chat.completions.create(**args, stream=True, stream_options={'include_usage': True}):
        if ev.choices: text += ev.choices[0].delta.content or ''
        if ev.usage: n = ev.usage.completion_tokens
    return text, n


def main():
    from nano_serve.server import free_port, wait_ready
    from openai import OpenAI
    p = argparse.ArgumentParser()
    p.add_argument('--out', default=str(ROOT / 'bench' / 'results')); p.add_argument('--concurrency', type=int, default=16)
    a = p.parse_args()
    port = free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning',
                             '--max-num-seqs', str(a.concurrency)])
    try:
        wait_ready(f'http://127.0.0.1:{port}', proc)
        client = OpenAI(base_url=f'http://127.0.0.1:{port}/v1', api_key='none', max_retries=0, timeout=600)
        one(client, 'warm up', False)
        runs = {}
        for name, stream, kw in [('schema', False, {'response_format': FORMAT}), ('schema, streamed', True, {'response_format': FORMAT}),
                                 ('unconstrained', False, {})]:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(a.concurrency) as ex: outs = list(ex.map(lambda q: one(client, q, stream, **kw), PROMPTS))
            dt = time.perf_counter() - t0
            runs[name] = {'requests': len(outs), 'valid': sum(valid(t) for t, _ in outs), 'output_tokens': sum(n for _, n in outs),
                          'seconds': dt, 'output_tok_s': sum(n for _, n in outs) / dt, 'example': outs[0][0][:300]}
            print(name, {k: v for k, v in runs[name].items() if k != 'example'}, flush=True)
        res = {'command': 'python bench/structured_cpu.py', 'cpu': cpu_name(), 'cores': os.cpu_count(), 'date': time.strftime('%Y-%m-%d'),
               'concurrency': a.concurrency, 'runs': runs,
               'cost': 1 - runs['schema']['output_tok_s'] / runs['unconstrained']['output_tok_s']}
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / 'structured-cpu.json').write_text(json.dumps(res, indent=1))
        print(f"schema costs {res['cost']:.1%} of output tok/s", flush=True)
    finally:
        proc.terminate(); proc.wait(15)


if __name__ == '__main__': main()
