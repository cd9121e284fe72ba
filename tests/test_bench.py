"""`nano_serve_bench serve` against a live nano-serve: vLLM's field names, and token counts that match the server's."""
import asyncio, json, subprocess, sys
from nano_serve.bench import bench_serve, metrics_url, prom_value, random_token_workload

FIELDS = ['completed', 'failed', 'duration', 'request_throughput', 'output_throughput', 'total_token_throughput', 'total_input_tokens',
          'total_output_tokens'] + [f'{s}_{k}_ms' for k in ('ttft', 'tpot', 'itl', 'e2el') for s in ('mean', 'median', 'p99')]


def test_bench_serve_counts_match_server(server):
    before = server.wait_idle()
    wl = random_token_workload(12, 24, 10, 0.5, seed=3, vocab_size=40000)
    res = asyncio.run(bench_serve(f'{server.base}/v1', None, wl, request_rate=20, max_concurrency=6, progress=False))
    after = server.wait_idle()
    assert all(f in res for f in FIELDS)
    assert res['completed'] == 12 and res['failed'] == 0
    assert res['total_output_tokens'] == sum(n for _, n in wl)             # ignore_eos: every request runs to max_tokens
    assert res['total_output_tokens'] == after['nano_serve:generation_tokens_total'] - before['nano_serve:generation_tokens_total']
    assert res['total_input_tokens'] == sum(len(p) for p, _ in wl)
    assert 0 < res['median_ttft_ms'] <= res['p99_ttft_ms'] and res['mean_tpot_ms'] > 0


def test_bench_cli_json_and_unreachable_server(server, tmp_path):
    out = tmp_path / 'r.json'
    cmd = [sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', f'{server.base}/v1', '--num-prompts', '4', '--input-len', '16',
           '--output-len', '4', '--max-concurrency', '2', '--no-progress', '--output-json', str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(out.read_text())['completed'] == 4
    bad = subprocess.run(cmd[:5] + ['http://127.0.0.1:9/v1', '--num-prompts', '2', '--no-progress', '--timeout', '5'], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and 'cannot reach' in (bad.stderr + bad.stdout)


def test_bench_cli_client_processes_match_server(server, tmp_path):
    out = tmp_path / 'r.json'
    def finished():                                                        # requests the server finished, summed over finish reasons
        import urllib.request
        return prom_value(urllib.request.urlopen(metrics_url(server.base), timeout=10).read().decode(), 'nano_serve:request_success_total')
    before, done_before = server.wait_idle(), finished()
    cmd = [sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', f'{server.base}/v1', '--num-prompts', '10', '--input-len', '16',
           '--output-len', '6', '--range-ratio', '0.5', '--max-concurrency', '6', '--client-processes', '2', '--seed', '5',
           '--no-progress', '--output-json', str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    after, done_after = server.wait_idle(), finished()
    res = json.loads(out.read_text())
    served = after['nano_serve:generation_tokens_total'] - before['nano_serve:generation_tokens_total']
    assert res['completed'] == 10 and res['failed'] == 0
    assert res['completed'] == done_after - done_before
    assert res['total_output_tokens'] == served == res['server_generation_tokens']
    assert res['server_output_tok_s'] == res['server_generation_tokens'] / res['duration'] > 0
    assert res['client_processes'] == 2 and len(res['client_cpu_util']) == 2 and res['limit'] in ('client', 'server')
