"""Issue 12 on a GPU: the served engine against the offline engine on the same workload, same machine, same run.

    python bench/engine_core_gpu.py --out DIR [--shapes qwen3-0.6b,llama-3.1-8b] [--clients 8] [--api-server-counts 1,2,4] [--baseline .base]
                                    [--tp 1,2]

For each model shape (random weights of the real shape; the bundled SmolLM2 tokenizer in `.gputok`, so the server
detokenizes and streams text as it would for a real model):
  1. offline: `nano_serve_bench throughput`, 512 prompts of 430 tokens, 128 out, max_num_seqs 256, budget 8192;
  2. served: `nano_serve_server` on the same model and limits, driven by `nano_serve_bench serve` at 256 concurrent
     streams from `--clients` client processes, after a short warm-up; the server's own generation counter is read too;
     once for each number of service processes in `--api-server-counts`, with each process's CPU use during the run.
With `--baseline DIR` (a copy of an older `nano_serve` package), step 2 is repeated with that code's server.
`--tp 1,2`: steps 1 and 2 (one service process) for each tensor-parallel size (issue 14), keys `offline_tpN`, `served_tpN`.
Then the GPU's busy fraction during the offline nano-vllm workload (torch profiler, kernels only). Each phase runs in
its own process, so GPU memory is free between them. Results: DIR/engine_core_gpu.json, one line per phase on stdout.
"""
import argparse, json, os, subprocess, sys, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.server import wait_ready
LIMITS = ['--max-num-seqs', '256', '--max-num-batched-tokens', '8192']


def run_json(cmd: list, out: Path, env: dict | None = None, timeout: int = 900) -> dict:
    "Run a command that writes `--output-json out`; its JSON (or the error)."
    t0 = time.time()
    p = subprocess.run(cmd + ['--output-json', str(out)], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0 or not out.exists():
        return {'error': f'exit {p.returncode}', 'stderr': p.stderr[-3000:], 'wall_s': time.time() - t0}
    return json.loads(out.read_text())


def offline(shape: str, tok: str, out: Path, tp: int = 1) -> dict:
    "Offline throughput of the current code."
    r = run_json([sys.executable, '-m', 'nano_serve.bench', 'throughput', '--model', shape, '--load-format', 'dummy',
                  '--num-prompts', '512', '--input-len', '430', '--output-len', '128', *LIMITS, '--tensor-parallel-size', str(tp)], out)
    return {k: r.get(k) for k in ('output_tok_s', 'seconds', 'output_tokens', 'error', 'stderr')}


STEP_KEYS = ('step_prefill_seconds_sum', 'step_prefill_seconds_count', 'step_decode_seconds_sum', 'step_decode_seconds_count',
             'engine_steps_total', 'prefill_tokens_total', 'decode_tokens_total')

def scrape(base: str) -> dict:
    "The server's step counters from /metrics (prefill-carrying and decode-only steps: how many, how long)."
    text = urllib.request.urlopen(base + '/metrics', timeout=30).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith('#') or ' ' not in line: continue
        name, val = line.rsplit(' ', 1)
        key = name.split('{')[0].split(':', 1)[-1]
        if key in STEP_KEYS: out[key] = float(val)
    return out

def step_mix(before: dict, after: dict) -> dict:
    "How many steps carried a prefill during the run, and their mean time against decode-only steps."
    d = {k: after.get(k, 0) - before.get(k, 0) for k in STEP_KEYS}
    n_p, n_d = d['step_prefill_seconds_count'], d['step_decode_seconds_count']
    return dict(steps=d['engine_steps_total'], prefill_steps=n_p, decode_steps=n_d,
                prefill_step_ms=1e3 * d['step_prefill_seconds_sum'] / max(n_p, 1), decode_step_ms=1e3 * d['step_decode_seconds_sum'] / max(n_d, 1),
                prefill_tokens=d['prefill_tokens_total'], decode_tokens=d['decode_tokens_total'])

def processes(srv_pid: int) -> list:
    "The server process and all its descendants (the core, the other service processes, helpers)."
    import psutil
    for _ in range(5):
        try: return [psutil.Process(srv_pid)] + psutil.Process(srv_pid).children(recursive=True)
        except psutil.Error as e: err = e          # a helper ended while we walked the tree: look again
    raise err

def cpu_of(procs) -> dict:
    "CPU seconds (user + system) per pid."
    out = {}
    for p in procs:
        try: out[p.pid] = sum(p.cpu_times()[:2])
        except Exception: pass
    return out

def served(model_args: list, pythonpath: str, clients: int, out: Path, port: int, env_extra: dict | None = None) -> dict:
    "Start a server (code from `pythonpath`), warm it, drive it at 256 concurrent streams; client and server figures."
    base = f'http://127.0.0.1:{port}'
    log = open(out.with_suffix('.server.log'), 'w')
    srv = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning',
                            *model_args, *LIMITS], env={**os.environ, **(env_extra or {}), 'PYTHONPATH': f"{pythonpath}:{os.environ.get('PYTHONPATH', '')}"}, stdout=log, stderr=subprocess.STDOUT,
                           cwd=pythonpath)   # `-m` puts the working folder first on the path: started here, a baseline would import this tree
    try:
        t0 = time.time(); wait_ready(base, srv, timeout=900); ready_s = time.time() - t0
        bench = [sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', base + '/v1', '--input-len', '430', '--output-len', '128',
                 '--vocab-size', '32000', '--no-progress', '--timeout', '600']
        env = {'PYTHONPATH': f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}      # the client is always this tree's
        run_json(bench + ['--num-prompts', '64', '--max-concurrency', '64', '--seed', '7'], out.with_suffix('.warm.json'), env)
        before = scrape(base)
        core_pid = json.loads(urllib.request.urlopen(base + '/health', timeout=10).read()).get('engine_core_pid')
        procs = processes(srv.pid)
        c0, t0 = cpu_of(procs), time.time()
        r = run_json(bench + ['--num-prompts', '512', '--max-concurrency', '256', '--client-processes', str(clients)], out, env)
        c1, wall = cpu_of(procs), time.time() - t0
        print(f'  {out.name}: ready {ready_s:.0f} s, measured run (client processes included) {wall:.0f} s', flush=True)
        # CPU seconds, not a share of the wall time: the window includes the client processes' start-up, which dwarfs the run
        used = {pid: round(c1[pid] - c0[pid], 2) for pid in c1 if pid in c0 and c1[pid] - c0[pid] > 0.5}
        mix = step_mix(before, scrape(base))
        keep = ('completed', 'failed', 'duration', 'output_throughput', 'server_output_tok_s', 'server_generation_tokens', 'limit',
                'client_cpu_util', 'client_processes', 'median_ttft_ms', 'median_tpot_ms', 'p99_itl_ms', 'error', 'stderr', 'errors')
        return {'ready_s': ready_s, **{k: r.get(k) for k in keep}, 'steps': mix,
                'core_cpu_s': used.pop(core_pid, None), 'service_cpu_s': sorted(used.values(), reverse=True)}   # busy processes only
    finally:
        srv.terminate()
        try: srv.wait(30)
        except subprocess.TimeoutExpired: srv.kill()
        log.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out')); p.add_argument('--shapes', default='qwen3-0.6b,llama-3.1-8b')
    p.add_argument('--clients', type=int, default=8); p.add_argument('--baseline', default=None)
    p.add_argument('--api-server-counts', default='1', help='serve once per number of service processes, e.g. 1,2,4')
    p.add_argument('--baseline-first', action='store_true', help='run the baseline server before ours (disk caches warm for ours)')
    p.add_argument('--profile-core', action='store_true', help='a second served run of ours with the core under cProfile')
    p.add_argument('--tp', default=None, help='tensor-parallel sizes to serve and run offline, e.g. 1,2 (nothing else then)')
    a = p.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    tok = str(ROOT / '.gputok')
    res = {'gpu': subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'], capture_output=True, text=True).stdout.strip(),
           'date': time.strftime('%Y-%m-%d %H:%M'), 'clients': a.clients, 'workload': '512 prompts x 430 in, 128 out; max_num_seqs 256, budget 8192'}
    if a.tp:   # issue 14: offline and served at each tensor-parallel size, same machine, same run
        for i, shape in enumerate(a.shapes.split(',')):
            r = res[shape] = {}
            for tp in map(int, a.tp.split(',')):
                r[f'offline_tp{tp}'] = offline(shape, tok, out / f'{shape}-offline-tp{tp}.json', tp)
                print(shape, f'offline tp{tp}', r[f'offline_tp{tp}'], flush=True)
                r[f'served_tp{tp}'] = served(['--model', shape, '--load-format', 'dummy', '--tokenizer', tok, '--tensor-parallel-size', str(tp)],
                                             str(ROOT), a.clients, out / f'{shape}-served-tp{tp}.json', 8400 + 10 * tp + i)
                print(shape, f'served tp{tp}', r[f'served_tp{tp}'], flush=True)
                (out / 'engine_core_gpu.json').write_text(json.dumps(res, indent=1))
        return
    for i, shape in enumerate(a.shapes.split(',')):
        r = res[shape] = {}
        r['offline'] = offline(shape, tok, out / f'{shape}-offline.json')
        print(shape, 'offline', r['offline'], flush=True)
        margs = ['--model', shape, '--load-format', 'dummy', '--tokenizer', tok]
        def ours():
            for n in map(int, a.api_server_counts.split(',')):
                key = 'served' if n == 1 else f'served_x{n}'
                r[key] = served(margs + ['--api-server-count', str(n)], str(ROOT), a.clients, out / f'{shape}-{key}.json', 8100 + 10 * n + i)
                print(shape, key, r[key], flush=True)
                (out / 'engine_core_gpu.json').write_text(json.dumps(res, indent=1))
        def theirs():   # the old server has no --tokenizer: an HF folder with random weights and the tokenizer
            folder = '/tmp/qwen3-0.6b-hf'
            if not Path(folder).exists(): subprocess.run([sys.executable, str(ROOT / 'bench' / 'make_hf_folder.py'), shape, tok, folder], check=True)
            r['served_baseline'] = served(['--model', folder], str(Path(a.baseline).resolve()), a.clients, out / f'{shape}-served-base.json', 8200 + i)
            print(shape, 'served (baseline code)', r['served_baseline'], flush=True)
        order = [ours] + ([theirs] if a.baseline and shape == 'qwen3-0.6b' else [])
        for run in (order[::-1] if a.baseline_first else order): run()
        if a.profile_core:
            prof = out / f'{shape}-core.prof'
            r['served_profiled'] = served(margs, str(ROOT), a.clients, out / f'{shape}-served-prof.json', 8300 + i, {'NANO_SERVE_CORE_PROFILE': str(prof)})
            print(shape, 'served, core under cProfile', r['served_profiled'], flush=True)
            import pstats, io
            for key in ('tottime', 'cumulative'):
                buf = io.StringIO(); pstats.Stats(str(prof), stream=buf).sort_stats(key).print_stats(25)
                (out / f'{shape}-core-{key}.txt').write_text(buf.getvalue())
        for k in [k for k in list(r) if k.startswith('served') and not k.endswith('offline')]:
            s, o = r.get(k, {}), r['offline'].get('output_tok_s')
            if s.get('server_output_tok_s') and o: r[f'{k}_over_offline'] = s['server_output_tok_s'] / o
        (out / 'engine_core_gpu.json').write_text(json.dumps(res, indent=1))
    print(json.dumps({s: {k: v for k, v in res[s].items() if k.endswith('offline') and k != 'offline'} for s in a.shapes.split(',')}))


if __name__ == '__main__': main()
