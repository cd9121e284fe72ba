"""What does the service process cost per streamed token? A server whose engine core has no model, on any machine.

    python bench/service_overhead.py [--step-ms 2] [--num-prompts 512] [--concurrency 256] [--clients 1] [--api-server-count 1] [--output-json F]

`EchoCore` is the real `EngineCore` (scheduler, allocator, metrics, the process boundary) with a runner that returns
the next token of a fixed cycle of real vocabulary ids after `--step-ms` of pretend device time. The real server runs
it (`--engine-core bench.service_overhead:EchoCore`) and streams real text through the bundled tokenizer, so every
per-token cost of the service (message decoding, detokenization, stop-string checks, SSE events, socket writes) is
paid as on a GPU, without one. We read the server process's CPU time (user + system) around the run and divide by
the tokens it streamed: the inverse of that is the most tokens per second one service process can stream, whatever
the GPU behind it.
"""
import argparse, json, os, subprocess, sys, time, urllib.request
from pathlib import Path

import psutil
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.engine import EngineCore
from nano_serve.scheduler import Scheduler
from nano_serve.allocator import BlockAllocator
from nano_serve.sampler import Sampler, StepResult
from nano_serve.metrics import Metrics
from nano_serve.frontend import EngineLimits
from nano_serve.server import wait_ready


class EchoRunner:
    "Stands in for `ModelRunner`: each sampling chunk gets the next id of a cycle, after `step_ms` of pretend device time."
    def __init__(self, step_ms: float): self.step_ms, self.sampler, self.graphs, self.n = step_ms, Sampler(), None, 0

    def execute(self, batch) -> StepResult:
        time.sleep(self.step_ms / 1e3)
        res = StepResult()
        for c in batch.chunks:
            if c.sample: self.n += 1; res.sampled[c.request_id] = [1000 + self.n * 7919 % 20000]
        return res


class EchoCore(EngineCore):
    "An `EngineCore` without a model: the real scheduler and bookkeeping around `EchoRunner`."
    def __init__(self, max_num_seqs: int = 256, max_num_batched_tokens: int = 8192, step_log=None, request_log=None, **_):
        import torch
        self.device, self.max_model_len = torch.device('cpu'), 8192
        self.allocator = BlockAllocator(100_000, 16, enable_prefix_caching=False)
        self.scheduler = Scheduler(self.allocator, max_num_seqs, max_num_batched_tokens, max_model_len=self.max_model_len)
        self.runner, self.check_invariants = EchoRunner(float(os.environ.get('ECHO_STEP_MS', '2'))), False
        self.metrics = Metrics(step_log=step_log, request_log=request_log)   # the server's --step-log and --request-log
        self.limits = EngineLimits(49152, self.max_model_len, 100_000, 16, 2)
        self._sent, self._last_token, self.async_scheduling, self.inflight, self._host_readers = {}, {}, False, None, set()
        self.speculating, self._decided, self.gate, self.hindsight, self.drafter = False, None, None, None, None   # no drafting

    def paths(self) -> dict: return {'runner': f'echo, {self.runner.step_ms} ms a step'}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--step-ms', type=float, default=2.0); p.add_argument('--num-prompts', type=int, default=512)
    p.add_argument('--concurrency', type=int, default=256); p.add_argument('--output-len', type=int, default=128)
    p.add_argument('--clients', type=int, default=1); p.add_argument('--port', type=int, default=8400)
    p.add_argument('--api-server-count', type=int, default=1, help='service processes in front of the core (their CPU is summed)')
    p.add_argument('--output-json', default=None)
    p.add_argument('--py-spy', default=None, help='sample the service process with py-spy into this file (collapsed stacks)')
    a = p.parse_args()
    base = f'http://127.0.0.1:{a.port}'
    srv = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(a.port), '--no-dashboard', '--log-level', 'warning',
                            '--engine-core', 'bench.service_overhead:EchoCore', '--max-num-seqs', str(a.concurrency), '--max-waiting', '100000',
                            '--api-server-count', str(a.api_server_count)],
                           cwd=ROOT, env={**os.environ, 'ECHO_STEP_MS': str(a.step_ms), 'PYTHONPATH': str(ROOT)})
    try:
        wait_ready(base, srv, timeout=120)
        health, t0 = {}, time.time()
        while len(health) < a.api_server_count and time.time() - t0 < 60:     # every service process, by asking on new connections
            h = json.loads(urllib.request.urlopen(base + '/health').read()); health[h['service_index']] = h
        core = psutil.Process(h['engine_core_pid'])
        services = [psutil.Process(h['service_pid']) for h in health.values()]
        cpu = lambda ps: sum(sum(p.cpu_times()[:2]) for p in ps)
        s0, c0 = cpu(services), cpu([core])
        spy = a.py_spy and subprocess.Popen(['py-spy', 'record', '--pid', str(srv.pid), '--format', 'raw', '--rate', '200', '--nonblocking',
                                             '--output', a.py_spy], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = Path('/tmp/service-overhead-run.json')
        subprocess.run([sys.executable, '-m', 'nano_serve.bench', 'serve', '--base-url', base + '/v1', '--num-prompts', str(a.num_prompts),
                        '--input-len', '32', '--output-len', str(a.output_len), '--max-concurrency', str(a.concurrency),
                        '--client-processes', str(a.clients), '--no-progress', '--output-json', str(out)], check=True, capture_output=True, cwd=ROOT)
        s1, c1 = cpu(services), cpu([core])
        if spy: spy.send_signal(2); spy.wait(30)   # SIGINT: py-spy writes its file and exits
        r = json.loads(out.read_text())
        toks = r['server_generation_tokens'] or r['total_output_tokens']
        res = dict(machine=subprocess.run(['lscpu'], capture_output=True, text=True).stdout.split('Model name:')[1].split('\n')[0].strip(),
                   step_ms=a.step_ms, concurrency=a.concurrency, clients=a.clients, api_server_count=a.api_server_count, tokens=toks, duration_s=r['duration'],
                   streamed_tok_s=r['output_throughput'], limit=r.get('limit'), client_cpu_util=r.get('client_cpu_util'),
                   service_cpu_s=s1 - s0, service_us_per_token=1e6 * (s1 - s0) / toks, service_ceiling_tok_s=toks / (s1 - s0),
                   core_cpu_s=c1 - c0, core_us_per_token=1e6 * (c1 - c0) / toks, median_ttft_ms=r['median_ttft_ms'])
        text = json.dumps(res, indent=1)
        print(text)
        if a.output_json: Path(a.output_json).write_text(text + '\n')
    finally:
        srv.terminate()
        try: srv.wait(20)
        except subprocess.TimeoutExpired: srv.kill()


if __name__ == '__main__': main()
