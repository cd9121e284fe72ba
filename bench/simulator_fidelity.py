"""Issue 19: does the simulator predict the real server? Three CPU workloads, the same trace simulated and served.

    python bench/simulator_fidelity.py [--output-json bench/results/simulator-fidelity-cpu.json] [--speed 100000]

1. Calibrate: the bundled model in-process (`LLM`, the server's limits) serves a calibration trace in real time and
   every step is timed with its shape; `StepCost.fit` gives the cost model.
2. For each workload (steady Poisson, bursty, long prompts): `nano_serve_server` on the bundled model serves the
   trace (`replay`: the official openai client, at the trace's arrival times), and `simulate` runs the same trace
   through the real scheduler on the fitted cost model. Errors of throughput, median TTFT and median TPOT.
3. Speed: how long `simulate` takes for `--speed` requests (a steady trace at about the machine's capacity).
"""
import argparse, asyncio, json, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.simulator import poisson_trace, bursty_trace, StepCost, calibrate, simulate, make_scheduler, replay, fidelity
from nano_serve.server import wait_ready, free_port

LIMITS = dict(max_num_seqs=32, max_num_batched_tokens=512)
WORKLOADS = {
    'steady': lambda: poisson_trace(48, rate=1.5, prompt_len=(64, 256), output_len=(16, 64), seed=11),
    'bursty': lambda: bursty_trace(48, rate=1.5, cv=3.0, prompt_len=(64, 256), output_len=(16, 64), seed=12),
    'long-prompt': lambda: poisson_trace(20, rate=0.5, prompt_len=(800, 1500), output_len=(8, 24), seed=13),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--output-json', default=None); p.add_argument('--speed', type=int, default=100_000)
    p.add_argument('--workloads', default=','.join(WORKLOADS))
    a = p.parse_args()
    cpu = subprocess.run(['lscpu'], capture_output=True, text=True).stdout.split('Model name:')[1].split('\n')[0].strip()
    res = {'machine': f'{cpu}, 2 cores', 'limits': LIMITS, 'workloads': {}}
    from nano_serve.engine import LLM
    t0 = time.time()
    llm = LLM(None, num_kv_blocks=1456, **LIMITS)   # the server's default pool on the CPU (1 GiB)
    calib = poisson_trace(60, rate=2.5, prompt_len=(32, 512), output_len=(8, 64), seed=5)   # prefill chunks beside decode batches of many sizes
    samples = calibrate(llm, calib)
    cost = StepCost.fit(samples)
    res['cost'] = vars(cost) | {'samples': len(samples), 'calibration_s': time.time() - t0}
    print('cost model', res['cost'], flush=True)
    del llm
    port = free_port()
    srv = subprocess.Popen([sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning',
                            '--max-num-seqs', str(LIMITS['max_num_seqs']), '--max-num-batched-tokens', str(LIMITS['max_num_batched_tokens'])], cwd=ROOT)
    try:
        base = f'http://127.0.0.1:{port}'
        wait_ready(base, srv)
        asyncio.run(replay(base + '/v1', poisson_trace(4, rate=4, seed=1)))    # warm-up
        for name in a.workloads.split(','):
            trace = WORKLOADS[name]()
            real = asyncio.run(replay(base + '/v1', trace))
            sim = simulate(trace, cost, make_scheduler(1456, 16, **LIMITS))
            pred = sim.summary()
            err = fidelity(pred, real)
            res['workloads'][name] = {'requests': len(trace), 'measured': {k: real[k] for k in pred if k in real} | {'failed': real['failed']},
                                      'predicted': pred, 'error': err, 'sim_wall_s': sim.wall_s}
            print(name, {k: f'{v:+.1%}' for k, v in err.items()}, 'measured', {k: round(real[k], 1) for k in ('output_throughput', 'median_ttft_ms', 'median_tpot_ms')},
                  'predicted', {k: round(pred[k], 1) for k in ('output_throughput', 'median_ttft_ms', 'median_tpot_ms')}, flush=True)
    finally:
        srv.terminate(); srv.wait(20)
    if a.speed:
        per_request = 160 * cost.per_prefill_token + 40 * (cost.base / LIMITS['max_num_seqs'] + cost.per_decode_row + 200 * cost.per_context_token)
        cap = 1 / per_request                        # requests/s the machine sustains at full batches (160 tokens in, 40 out on average)
        trace = poisson_trace(a.speed, rate=0.8 * cap, prompt_len=(64, 256), output_len=(16, 64), seed=21)
        sim = simulate(trace, cost, make_scheduler(1456, 16, **LIMITS))
        res['speed'] = {'requests': a.speed, 'rate': 0.8 * cap, 'steps': sim.steps, 'wall_s': sim.wall_s, 'simulated_s': sim.summary()['duration']}
        print('speed', res['speed'], flush=True)
    text = json.dumps(res, indent=1)
    if a.output_json: Path(a.output_json).write_text(text + '\n')
    print(text)


if __name__ == '__main__': main()
