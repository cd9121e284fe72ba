"""CPU serving before and after, in one run on one machine: two server trees, the same client, alternating rounds.

    python bench/cpu_serve_compare.py --baseline OLD_TREE [--rounds 2] [--after-args "--cpu-compile off"] [--output-json bench/results/serve-cpu-split.json]
                                      [--rate 1.5]

OLD_TREE is a folder holding an older `nano_serve` package (e.g. `git worktree add /tmp/base <commit>`, then pass
/tmp/base). Each server (the bundled model, float32) is started alone, warmed, and driven by this tree's
`nano_serve_bench serve`: 32 prompts of 128 random tokens, 32 out, at concurrency 1 and 32 (the README's table).
Rounds alternate old/new so that drift of the machine hits both alike. `--after-args` adds flags to this tree's server
only (an older one may not know them), e.g. `--cpu-compile off` to compare the eager servers alone. `--rate R` drives
each server with Poisson arrivals instead: 48 prompts of 64-448 random tokens (256 ± 75%), 64 out, R requests a
second, so that the requests in a batch hold contexts of many lengths, as a served batch does.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.server import wait_ready
sys.path.insert(0, str(ROOT / 'bench'))
from cpu_peers import cpu_name, report


def serve_once(tree: str, port: int, extra: list[str] = (), rate: float | None = None) -> dict:
    "Start the server of `tree` (with flags `extra`), drive it at concurrency 1 and 32 (or with Poisson arrivals at `rate`), stop it."
    base = f'http://127.0.0.1:{port}'
    srv = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning', *extra],
                           env={**os.environ, 'PYTHONPATH': tree}, cwd=tree)   # `-m` puts the working folder first on the path
    try:
        wait_ready(base, srv, timeout=300)
        out = Path('/tmp') / f'cpu-serve-{port}.json'
        cmd = [sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', base + '/v1', '--num-prompts', '32', '--input-len', '128',
               '--output-len', '32', '--no-progress']
        subprocess.run(cmd[:-1] + ['--num-prompts', '4', '--max-concurrency', '4', '--no-progress'], env={**os.environ, 'PYTHONPATH': str(ROOT)},
                       check=True, capture_output=True)   # warm-up
        load = ['--max-concurrency', '1,32'] if rate is None else \
            ['--num-prompts', '48', '--input-len', '256', '--range-ratio', '0.75', '--output-len', '64', '--request-rate', str(rate)]
        subprocess.run(cmd + load + ['--output-json', str(out)], env={**os.environ, 'PYTHONPATH': str(ROOT)}, check=True, capture_output=True)
        got = json.loads(out.read_text())
        if rate is not None: return {f'rate {rate}': dict(out_tok_s=got['output_throughput'], median_tpot_ms=got['median_tpot_ms'],
                                                          median_ttft_ms=got['median_ttft_ms'], p99_ttft_ms=got['p99_ttft_ms'], failed=got['failed'])}
        runs = got['runs']
        return {f'c{r["max_concurrency"]}': dict(out_tok_s=r['output_throughput'], median_tpot_ms=r['median_tpot_ms'],
                                                 median_ttft_ms=r['median_ttft_ms']) for r in runs}
    finally:
        srv.terminate()
        try: srv.wait(20)
        except subprocess.TimeoutExpired: srv.kill()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--baseline', required=True); p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--output-json', default=None); p.add_argument('--after-args', default='', help="flags for this tree's server only")
    p.add_argument('--rate', type=float, default=None, help='Poisson arrivals at this many requests a second instead of concurrency 1 and 32')
    a = p.parse_args()
    res = {'cpu': cpu_name(), 'date': time.strftime('%Y-%m-%d'), 'baseline': a.baseline, 'after_args': a.after_args, 'rate': a.rate, 'rounds': []}
    for i in range(a.rounds):
        rnd = {}
        for name, tree, extra in (('before', a.baseline, []), ('after', str(ROOT), a.after_args.split())):
            rnd[name] = serve_once(tree, 8300 + i * 2 + (name == 'after'), extra, a.rate)
            print(i, name, json.dumps(rnd[name]), flush=True)
        res['rounds'].append(rnd)
    report(res, a.output_json)


if __name__ == '__main__': main()
