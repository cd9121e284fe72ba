"""gRPC against HTTP server-sent events on one server, one run: throughput and time to first token at concurrency 64.

    python bench/grpc_vs_http.py [--out DIR] [--prompts 128] [--concurrency 64] [--max-tokens 32] [--rounds 3]

Starts `nano_serve_server --grpc-port` (the bundled SmolLM2, float32, CPU). The same workload (real-word prompts of
12-60 words, greedy, `ignore_eos`, the same output length for all) is sent over HTTP (the official openai client,
streamed: nano_serve.bench.run_requests) and over gRPC (a grpc.aio client on the generated stub, streamed), in
alternating rounds, HTTP first, so warm-up and drift hit both alike. Each client runs in this one process with
asyncio, as it would in a service. Reports per round: output tokens/s by the client's count and by the server's
generation counter, TTFT and TPOT percentiles, and the client's CPU seconds (on 2 cores the client competes with the
server, so a cheaper protocol shows up as engine time). Result: DIR/grpc-vs-http-cpu.json.
"""
import argparse, asyncio, json, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_name() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines() if l.startswith('Model name'))
    except Exception: return platform.processor()


async def grpc_one(stub, pb, prompt: str, max_tokens: int, timeout: float):
    "Stream one request over gRPC and time it, as nano_serve.bench.send_one does over HTTP."
    from nano_serve.bench import RequestResult
    t0 = time.perf_counter(); first = last = None; itl, usage = [], None
    try:
        call = stub.Generate(pb.GenerateRequest(text=prompt, sampling=pb.SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)),
                             timeout=timeout)
        async for m in call:
            now = time.perf_counter()
            if m.text:
                if first is None: first = now
                else: itl.append(now - last)
                last = now
            if m.finish_reason: usage = m.usage
    except Exception as e: return RequestResult(False, error=f'{type(e).__name__}: {e}'[:300])
    end = time.perf_counter()
    return RequestResult(True, usage.prompt_tokens, usage.completion_tokens, (first or end) - t0, end - t0, itl)


async def run_grpc(target: str, workload: list, concurrency: int, timeout: float = 600):
    import grpc
    from nano_serve.proto import nano_serve_pb2 as pb, nano_serve_pb2_grpc as pb_grpc
    async with grpc.aio.insecure_channel(target) as ch:
        stub, gate = pb_grpc.GeneratorStub(ch), asyncio.Semaphore(concurrency)
        async def run(p, n):
            async with gate: return await grpc_one(stub, pb, p, n, timeout)
        return await asyncio.gather(*(run(p, n) for p, n in workload))


async def run_http(base: str, model: str, workload: list, concurrency: int, timeout: float = 600):
    from nano_serve.bench import make_client, run_requests
    client = make_client(base, 'none', timeout)
    try: return await run_requests(client, model, workload, max_concurrency=concurrency, timeout=timeout)
    finally: await client.close()


def measure(kind: str, fn, base: str) -> dict:
    "One round: the client's summary, the server's token counter, the client's CPU time."
    from nano_serve.bench import summarize, server_generation_tokens, server_side, cpu_seconds
    before, c0, t0 = server_generation_tokens(base), cpu_seconds(), time.perf_counter()
    results = asyncio.run(fn())
    duration, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    s = summarize(results, duration)
    keep = ('completed', 'failed', 'duration', 'total_output_tokens', 'output_throughput', 'median_ttft_ms', 'p99_ttft_ms',
            'median_tpot_ms', 'p99_tpot_ms', 'errors')
    return dict(protocol=kind, **{k: s[k] for k in keep if k in s}, **server_side(before, server_generation_tokens(base), duration),
                client_cpu_s=round(cpu, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / 'bench' / 'results'))
    ap.add_argument('--prompts', type=int, default=128); ap.add_argument('--concurrency', type=int, default=64)
    ap.add_argument('--max-tokens', type=int, default=32); ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()
    from nano_serve.server import free_port, wait_ready
    from nano_serve.bench import text_workload
    port, gport = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--grpc-port', str(gport), '--no-dashboard',
                             '--log-level', 'warning', '--max-num-seqs', str(a.concurrency)])
    try:
        base = f'http://127.0.0.1:{port}'
        wait_ready(base, proc)
        workload = [(p, a.max_tokens) for p, _ in text_workload(a.prompts, words=(12, 60), seed=0)]
        for kind in ('http', 'grpc'):   # warm-up: the batch shapes of the real rounds, both client stacks
            measure('warm-up', (lambda: run_http(f'{base}/v1', 'SmolLM2-135M-Instruct', workload[:a.concurrency], a.concurrency)) if kind == 'http'
                    else (lambda: run_grpc(f'127.0.0.1:{gport}', workload[:a.concurrency], a.concurrency)), base)
        rounds = []
        for r in range(a.rounds):
            for kind in ('http', 'grpc'):
                fn = (lambda: run_http(f'{base}/v1', 'SmolLM2-135M-Instruct', workload, a.concurrency)) if kind == 'http' else \
                     (lambda: run_grpc(f'127.0.0.1:{gport}', workload, a.concurrency))
                rounds.append(dict(round=r, **measure(kind, fn, base)))
                x = rounds[-1]
                print(f"round {r} {kind:4s}: {x['completed']} done, {x['output_throughput']:.1f} out tok/s (server {x['server_output_tok_s']:.1f}), "
                      f"TTFT p50 {x['median_ttft_ms']:.0f} ms p99 {x['p99_ttft_ms']:.0f}, TPOT p50 {x['median_tpot_ms']:.0f} ms, client CPU {x['client_cpu_s']} s", flush=True)
    finally:
        proc.terminate(); proc.wait(30)
    out = dict(what='gRPC vs HTTP SSE, one server, alternating rounds', cpu=cpu_name(), cores=os.cpu_count(), date=time.strftime('%Y-%m-%d'),
               prompts=a.prompts, concurrency=a.concurrency, max_tokens=a.max_tokens, rounds=rounds,
               command='python bench/grpc_vs_http.py ' + ' '.join(sys.argv[1:]))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / 'grpc-vs-http-cpu.json').write_text(json.dumps(out, indent=1))
    print(f"wrote {Path(a.out) / 'grpc-vs-http-cpu.json'}")


if __name__ == '__main__': main()
