"""Issue 19: does the simulator predict the real server? The same traces simulated and served.

    python bench/simulator_fidelity.py [--preset cpu|gpu] [--output-json bench/results/simulator-fidelity-cpu.json]
                                       [--speed 100000] [--speed-again RESULT.json] [--in-process] [--server-args "--model /tmp/qwen3-hf --device cuda"]

1. `nano_serve_server` starts with `--step-log` and the preset's limits and KV pool, and serves the calibration phases
   (`profile_traces`: decode batches of growing size, prompts of growing length, then a mixed trace; each phase sent
   by `replay`, the official openai client, at the trace's arrival times). `StepCost.fit` on the steps it logged
   (`samples_from_records`) gives the cost model: the server's own steps, under load, with its service process and
   the client on the same machine. The request latency (what a client waits beyond the steps) is measured on the
   last phase: the median of each request's TTFT as its client saw it less the engine's, from the request log (7).
2. For each workload of the preset the server serves the trace and `simulate` runs the same trace through the real
   scheduler on the fitted cost model. Errors of throughput, median TTFT and median TPOT. On the CPU each workload's
   rate is set first, at `--load` (0.5) times what the fitted machine sustains on its lengths (`sustained_rate`,
   13_simulator), so each workload is the same regime on every CPU; `--load 0` keeps the rates it was first run at.
3. With `--in-process` (CPU): the cost model is also fitted the old way, on an in-process `LLM` serving the same
   calibration phases (`calibrate`), and every workload is predicted with both fits.
4. Speed: how long `simulate` takes for `--speed` requests (a steady trace at about the machine's capacity).
5. With `--repeats N`: each workload is served N times (fresh prompts each time), so the errors can be read beside
   how far two real runs of one trace differ (`run_to_run`: (max - min) / mean of each figure over the runs).
6. Each run is also simulated on its arrivals as the clients really sent them (`as_sent`; `error_as_sent_runs`,
   and how late the clients were: `send_lag_median_ms`, `send_lag_max_ms`).
7. The server keeps a request log (`--request-log`): each run's median TTFT and TPOT as the engine saw them, from
   the service process's arrival to the engine's first and last token (`engine_runs`), and the simulator's errors
   against those (`error_engine_runs`; its TTFT without the request latency). Where the errors against the
   engine are small and those against the clients large, the difference lies on the way in or out, not in the steps.
   Each client's request is matched to its engine record (by its prompt and output lengths) and its time split into
   legs (`split_runs`: medians of the way in, the engine's TTFT, the way out of the first token and of the last).
8. Chance: how far the machine's steps scatter around the fitted model (`step_noise`, on the calibration's steps) and,
   for each workload, the band that scatter gives each figure (`band`: 10th, 50th and 90th percentile over 30
   simulations with steps scattered that much, `spread`). Beside it, which real runs fall inside the band
   (`inside_band_runs`) and the errors against the mean of the runs (`error_mean`): a figure whose band is wide
   cannot be predicted closely for every single run, and a run outside the band is a miss that chance does not explain.

Every replay draws its own prompts (a seed per phase and run): the server caches prefixes, and a prompt repeated
from an earlier phase would skip part of its prefill, which the simulator (distinct prompts) never does.

Every simulation applies the server's admission limit (`--max-waiting`, 256 unless `--server-args` sets it): a request
that arrives while that many wait for their first token is refused, as the server answers 429.

    python bench/simulator_fidelity.py --resimulate bench/results/simulator-fidelity-gpu-saturating.json [--output-json ...]

predicts each workload of a committed result again with its saved cost model (no server, no GPU): how a change to
the simulator moves the errors against the same measured runs.
"""
import argparse, json, os, shlex, subprocess, sys, tempfile, time
from collections import Counter
from dataclasses import replace
import numpy as np
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.simulator import (poisson_trace, bursty_trace, StepCost, calibrate, simulate, make_scheduler, replay, fidelity,
                                  samples_from_records, profile_traces, client_pool, as_sent, spread, step_noise, sustained_rate, trace_rate)
from nano_serve.metrics import read_step_log, RequestRecord
from nano_serve.server import wait_ready, free_port
sys.path.insert(0, str(ROOT / 'bench'))
from cpu_peers import cpu_name, lscpu   # the CPU's model and vector extensions, beside every figure

PRESETS = {
    # each workload: (its trace at a rate, the rate it was first run at). On the CPU the rate is set after calibration,
    # at `load` times what the fitted machine sustains on the trace's lengths (`sustained_rate`): one regime on every
    # CPU (at the first rates the long prompts were 0.9-1.4 of capacity, the Xeon's bursty trace 1.2; 13a)
    'cpu': dict(limits=dict(max_num_seqs=32, max_num_batched_tokens=512), blocks=1456, clients=1, load=0.5,
                calibration=lambda: profile_traces(32, 1500, 24) + [poisson_trace(40, rate=1.5, prompt_len=(32, 512), output_len=(8, 64), seed=5)],
                workloads={
                    'steady': (lambda rate: poisson_trace(48, rate=rate, prompt_len=(64, 256), output_len=(16, 64), seed=11), 1.5),
                    'bursty': (lambda rate: bursty_trace(48, rate=rate, cv=3.0, prompt_len=(64, 256), output_len=(16, 64), seed=12), 1.5),
                    'long-prompt': (lambda rate: poisson_trace(20, rate=rate, prompt_len=(800, 1500), output_len=(8, 24), seed=13), 0.5)}),
    'gpu': dict(limits=dict(max_num_seqs=256, max_num_batched_tokens=8192), blocks=20000, clients=4, load=None,
                # a saturated phase too (arrivals far faster than service, another seed than the workload's): full batches
                # at long contexts, the regime a fit on lighter phases extrapolated to (2026-11-29: TPOT +99%)
                calibration=lambda: profile_traces(256, 8192, 64) + [poisson_trace(900, rate=150, prompt_len=(128, 2048), output_len=(32, 256), seed=6),
                                                                     poisson_trace(300, rate=12, prompt_len=(64, 2048), output_len=(16, 256), seed=5)],
                workloads={
                    'steady': (lambda rate: poisson_trace(600, rate=rate, prompt_len=(128, 2048), output_len=(32, 256), seed=11), 15),
                    'bursty': (lambda rate: bursty_trace(600, rate=rate, cv=3.0, prompt_len=(128, 2048), output_len=(32, 256), seed=12), 15),
                    # arrivals faster than the engine serves them: a queue builds, and TTFT is mostly waiting
                    'saturating': (lambda rate: poisson_trace(1500, rate=rate, prompt_len=(128, 2048), output_len=(32, 256), seed=14), 150)}),
}


def trace_of(pre: dict, name: str, w: dict | None = None):
    "Workload `name` of preset `pre` at the rate result `w` ran it at (results before loads: the rate it was first run at)."
    make, first = pre['workloads'][name]
    return make((w or {}).get('rate', first))


def at_load(pre: dict, name: str, load: float | None, cost: StepCost, blocks: int, limits: dict, eng: dict) -> tuple[list, dict]:
    "Workload `name` at `load` times the rate the fitted machine sustains on its lengths (None: at its first rate); the trace and how it was set."
    make, first = pre['workloads'][name]
    if load is None: return make(first), {'rate': first}
    top = sustained_rate(make(first), cost, make_scheduler(blocks, 16, **limits), eng['overlap'])
    trace = make(load * top)
    return trace, {'rate': load * top, 'load': load, 'sustained_rate': top, 'trace_load': trace_rate(trace) / top}   # the drawn arrivals' own


KEYS = ('output_throughput', 'median_ttft_ms', 'median_tpot_ms')


def engine_of(server_args: str) -> dict:
    "What `simulate` must know of the server its flags start: its admission limit (`--max-waiting`, counted by each service process) and whether it overlaps steps (on CUDA, unless told not to)."
    args = shlex.split(server_args)
    flag = lambda name, default: args[args.index(name) + 1] if name in args else default
    return {'max_waiting': int(flag('--max-waiting', 256)) * int(flag('--api-server-count', 1)),
            'overlap': flag('--device', 'cpu').startswith('cuda') and '--no-async-scheduling' not in args}


def predict(trace, cost: StepCost, blocks: int, limits: dict, eng: dict, measured: dict) -> tuple[dict, dict, float]:
    "Simulate `trace` on `cost` with the server's limits: (predicted summary, errors against `measured`, seconds the simulation took)."
    sim = simulate(trace, cost, make_scheduler(blocks, 16, **limits), **eng)
    pred = sim.summary()
    return pred, fidelity(pred, measured), sim.wall_s


def predict_as_sent(w: dict, trace, cost: StepCost, blocks: int, limits: dict, eng: dict):
    "Into workload result `w`: each run simulated on its arrivals as the clients really sent them (`as_sent`), and the errors."
    late = [predict(as_sent(trace, s), cost, blocks, limits, eng, x)[:2] for s, x in zip(w['sent_runs'], w.get('measured_runs', [w['measured']]))]
    w['predicted_as_sent_runs'], w['error_as_sent_runs'] = [p for p, _ in late], [e for _, e in late]


def engine_side(records: list[RequestRecord]) -> dict:
    "A run's requests as the engine saw them (its request log): median TTFT from the service's arrival to the first token, and median TPOT."
    done = [r for r in records if r.first_token is not None]
    ttft = [r.first_token - r.arrival for r in done]
    tpot = [(r.finished - r.first_token) / (r.output_tokens - 1) for r in done if r.output_tokens > 1]
    return {'completed': len(done), 'median_ttft_ms': float(np.median(ttft)) * 1e3, 'median_tpot_ms': float(np.median(tpot)) * 1e3,
            'mean_tpot_ms': float(np.mean(tpot)) * 1e3, 'median_queue_ms': float(np.median([r.first_scheduled - r.arrival for r in done])) * 1e3}


def latency_split(real: dict, records: list[RequestRecord], offset: float) -> dict:
    "Median legs of one run's requests, each matched to its engine record by (prompt, output tokens): sent -> made in the service (in), -> first token sampled (engine TTFT), -> seen by the client (out, of the first token and of the last)."
    by, keys = {}, Counter(res[3:] for res in real['results'])   # (prompt, output) lengths: a request's key
    for r in records: by.setdefault((r.prompt_tokens, r.output_tokens), []).append(r)
    legs = {'in': [], 'engine_ttft': [], 'out_first': [], 'out_last': [], 'way': []}
    for s, (ok, ttft, latency, p, n) in zip(real['sent'], real['results']):
        match = by.get((p, n), [])
        if not ok or len(match) != 1 or keys[(p, n)] != 1 or match[0].first_token is None: continue   # ambiguous: skip
        e, sent = match[0], real['start'] + s - offset     # on the engine's clock
        legs['in'].append(e.arrival - sent); legs['engine_ttft'].append(e.first_token - e.arrival)
        legs['out_first'].append(sent + ttft - e.first_token); legs['out_last'].append(sent + latency - e.finished)
        legs['way'].append(legs['in'][-1] + legs['out_first'][-1])   # the client's TTFT beyond the engine's
    return {'matched': len(legs['in'])} | {f'median_{k}_ms': float(np.median(v)) * 1e3 for k, v in legs.items() if v}


def with_request_latency(cost: StepCost, legs: dict, measured_ttft_ms: float, simulated_ttft_ms: float) -> StepCost:
    "`cost` with the calibration's request latency: measured where its legs are known (the median client TTFT beyond the engine's), else fitted as the TTFT the simulation lacked."
    # fitted, the latency also swallowed the cost model's error (14-55 ms where 5-10 ms were measured, 13a)
    if 'median_way_ms' in legs: return replace(cost, request_latency=legs['median_way_ms'] / 1e3)
    return cost.with_latency(measured_ttft_ms, simulated_ttft_ms)


def engine_errors(pred: dict, engine: dict, cost: StepCost) -> dict:
    "The simulator's errors against the engine's own view of a run (its TTFT less the request latency of the clients' view)."
    return {'median_ttft_ms': (pred['median_ttft_ms'] - cost.request_latency * 1e3 - engine['median_ttft_ms']) / engine['median_ttft_ms'],
            'median_tpot_ms': (pred['median_tpot_ms'] - engine['median_tpot_ms']) / engine['median_tpot_ms']}


def chance(name: str, w: dict, trace, cost: StepCost, noise: float, blocks: int, limits: dict, eng: dict):
    "Into workload result `w`: each figure's band under the machine's step scatter `noise`, which real runs fall inside it, and the errors against the mean of the runs."
    runs = w.get('measured_runs', [w['measured']])
    w['band'] = spread(trace, cost, lambda: make_scheduler(blocks, 16, **limits), noise, **eng)
    w['inside_band_runs'] = [{k: lo <= x[k] <= hi for k, (lo, _, hi) in w['band'].items()} for x in runs]
    w['error_mean'] = fidelity(w['predicted'], {k: float(np.mean([x[k] for x in runs])) for k in KEYS})
    print(name, 'band', {k: tuple(round(v, 1) for v in b) for k, b in w['band'].items()}, 'runs inside', [sum(i.values()) for i in w['inside_band_runs']],
          'against the mean of runs', {k: f'{v:+.1%}' for k, v in w['error_mean'].items()}, flush=True)


def speed(n: int, cost: StepCost, blocks: int, limits: dict) -> dict:
    "How long `simulate` takes for `n` requests of a steady trace at 80% of what the machine sustains at full batches (160 tokens in, 40 out on average)."
    cap = cost.capacity(limits['max_num_seqs'], 160, 40)
    trace = poisson_trace(n, rate=0.8 * cap, prompt_len=(64, 256), output_len=(16, 64), seed=21)
    sim = simulate(trace, cost, make_scheduler(blocks, 16, **limits))
    return {'requests': n, 'rate': 0.8 * cap, 'steps': sim.steps, 'wall_s': sim.wall_s, 'simulated_s': sim.summary()['duration'],
            'machine': cpu_name(), 'date': time.strftime('%Y-%m-%d')}


def resimulate(path: str, refit: bool = False) -> dict:
    "Predict each workload of a committed result again with its saved cost model (`refit`: fitted anew on its saved calibration steps); the result with new predictions and errors."
    res = json.loads(Path(path).read_text())
    pre, fields = PRESETS[res['preset']], set(StepCost.__dataclass_fields__)
    cost, eng = StepCost(**{k: v for k, v in res['cost'].items() if k in fields}), engine_of(res['server_args'])
    steps = [tuple(s) for s in res['cost'].get('step_samples', [])]
    if refit:   # this simulator's cost model on the run's own calibration steps; the request latency from its last phase again
        last = pre['calibration']()[-1]
        cost = StepCost.fit(steps)
        sim = simulate(last, cost, make_scheduler(res['num_kv_blocks'], 16, **res['limits']), **eng).summary()
        cost = with_request_latency(cost, res['cost'].get('last_phase_legs', {}), res['cost']['last_phase_ttft_ms']['measured'], sim['median_ttft_ms'])
        res['cost'] = vars(cost) | {k: v for k, v in res['cost'].items() if k not in fields}
    if steps: res['cost']['step_noise'] = step_noise(cost, steps)
    for name, w in res['workloads'].items():
        w['predicted'], w['error'], w['sim_wall_s'] = predict(trace_of(pre, name, w), cost, res['num_kv_blocks'], res['limits'], eng, w['measured'])
        if 'measured_runs' in w: w['error_runs'] = [fidelity(w['predicted'], x) for x in w['measured_runs']]
        if 'sent_runs' in w:
            predict_as_sent(w, trace_of(pre, name, w), cost, res['num_kv_blocks'], res['limits'], eng)
        if steps: chance(name, w, trace_of(pre, name, w), cost, res['cost']['step_noise'], res['num_kv_blocks'], res['limits'], eng)
        print(name, [{k: f'{v:+.1%}' for k, v in e.items()} for e in w.get('error_runs', [w['error']])],
              'refused: measured', w['measured'].get('failed'), 'predicted', w['predicted']['refused'])
    res['resimulated'] = f'predictions redone with {eng}{", the cost model refitted" if refit else ""} ({time.strftime("%Y-%m-%d")})'
    return res


def fit_on_server(base: str, phases, log: str, rlog: str, blocks: int, limits: dict, clients: int, eng: dict) -> tuple[StepCost, dict]:
    "Serve each trace of `phases` in turn, fit the cost model on the steps the server logged meanwhile, and the request latency on the last phase (its requests' way in and out)."
    before = len(read_step_log(log))
    t0 = time.time()
    for i, trace in enumerate(phases):
        rbefore = len(read_step_log(rlog, RequestRecord))
        last = replay(base + '/v1', trace, clients=clients, seed=100 + i)
    legs = latency_split(last, read_step_log(rlog, RequestRecord)[rbefore:], time.time() - time.monotonic())
    records = read_step_log(log)[before:]
    samples = samples_from_records(records)
    cost = StepCost.fit(samples)
    noise = step_noise(cost, samples)   # how far the steps scatter around the fit: the band of each figure (8)
    sim = simulate(phases[-1], cost, make_scheduler(blocks, 16, **limits), **eng).summary()
    cost = with_request_latency(cost, legs, last['median_ttft_ms'], sim['median_ttft_ms'])
    return cost, {'steps': len(records), 'samples': len(samples), 'step_noise': noise, 'calibration_s': time.time() - t0, 'last_phase_legs': legs,
                  'last_phase_ttft_ms': {'measured': last['median_ttft_ms'], 'simulated': sim['median_ttft_ms']}, 'step_samples': samples}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--preset', default='cpu', choices=list(PRESETS)); p.add_argument('--output-json', default=None)
    p.add_argument('--speed', type=int, default=100_000); p.add_argument('--workloads', default=None)
    p.add_argument('--in-process', action='store_true', help='also fit in-process (the old way) and predict with both fits')
    p.add_argument('--clients', type=int, default=None, help="client processes that send the traces (replay; the preset's: 1 on the CPU, 4 on a GPU)")
    p.add_argument('--server-args', default='', help='more nano_serve_server flags (a GPU: --model FOLDER --device cuda)')
    p.add_argument('--resimulate', default=None, help='a committed result: predict its workloads again with its saved cost model (no server)')
    p.add_argument('--refit', action='store_true', help='with --resimulate: fit the cost model again on the result\'s saved calibration steps')
    p.add_argument('--repeats', type=int, default=1, help='serve each workload this many times: how far real runs of one trace differ')
    p.add_argument('--load', type=float, default=None, help="each workload at this fraction of the rate the calibrated machine sustains on its lengths (the preset's: 0.5 on the CPU; 0: the workloads' first rates)")
    p.add_argument('--speed-again', default=None, help="a committed result: time `--speed` requests again with its saved cost model (no server); prints, and keeps nothing")
    a = p.parse_args()
    if a.speed_again:
        res, fields = json.loads(Path(a.speed_again).read_text()), set(StepCost.__dataclass_fields__)
        print(json.dumps(speed(a.speed, StepCost(**{k: v for k, v in res['cost'].items() if k in fields}), res['num_kv_blocks'], res['limits'])))
        return
    if a.resimulate:
        res = resimulate(a.resimulate, a.refit)
        if a.output_json: Path(a.output_json).write_text(json.dumps(res, separators=(',', ':')) + '\n')
        return
    pre = PRESETS[a.preset]
    eng = engine_of(a.server_args)
    a.clients = a.clients or pre['clients']
    limits, blocks = pre['limits'], pre['blocks']
    names = a.workloads.split(',') if a.workloads else list(pre['workloads'])
    res = {'machine': cpu_name(), 'cpu': lscpu(), 'preset': a.preset, 'limits': limits, 'num_kv_blocks': blocks, 'clients': a.clients,
           'server_args': a.server_args, 'workloads': {}}
    try:
        import torch
        if torch.cuda.is_available(): res['gpu'] = torch.cuda.get_device_name(0)
    except ImportError: pass
    costs = {}
    if a.in_process:
        from nano_serve.engine import LLM
        t0 = time.time()
        llm = LLM(None, num_kv_blocks=blocks, **limits)
        samples = calibrate(llm, pre['calibration']())
        costs['in-process'] = StepCost.fit(samples)   # no request latency: nothing but steps in-process
        res['cost_in_process'] = vars(costs['in-process']) | {'samples': len(samples), 'calibration_s': time.time() - t0}
        print('in-process cost model', res['cost_in_process'], flush=True)
        del llm
    port, log = free_port(), os.path.join(tempfile.mkdtemp(), 'steps.jsonl')
    rlog = log.replace('steps.jsonl', 'requests.jsonl')
    clients = client_pool(a.clients)                 # started once: each client process imports torch
    cmd = [sys.executable, '-m', 'nano_serve.server', '--port', str(port), '--no-dashboard', '--log-level', 'warning', '--step-log', log, '--request-log', rlog,
           '--num-kv-blocks', str(blocks), '--max-num-seqs', str(limits['max_num_seqs']),
           '--max-num-batched-tokens', str(limits['max_num_batched_tokens']), *shlex.split(a.server_args)]
    srv = subprocess.Popen(cmd, cwd=ROOT)
    try:
        base = f'http://127.0.0.1:{port}'
        wait_ready(base, srv, timeout=600)
        replay(base + '/v1', poisson_trace(8, rate=4, seed=1), clients=clients)    # warm-up
        costs['server'], info = fit_on_server(base, pre['calibration'](), log, rlog, blocks, limits, clients, eng)
        res['cost'] = vars(costs['server']) | info
        print('server cost model', {k: v for k, v in res['cost'].items() if k != 'step_samples'}, flush=True)
        load = pre['load'] if a.load is None else (a.load or None)
        for j, name in enumerate(names):
            trace, rate = at_load(pre, name, load, costs['server'], blocks, limits, eng)
            print(name, 'rate', {k: round(v, 3) for k, v in rate.items()}, flush=True)
            runs, steps, sents, engine, split = [], [], [], [], []
            for r in range(a.repeats):
                before, rbefore = len(read_step_log(log)), len(read_step_log(rlog, RequestRecord))
                real = replay(base + '/v1', trace, clients=clients, seed=200 + 10 * j + r)
                runs.append({k: real[k] for k in real if isinstance(real[k], (int, float)) and k != 'start'})
                sents.append(real['sent'])
                steps.append(samples_from_records(read_step_log(log)[before:]))   # the steps as served: the cost model's residuals
                recs, offset = read_step_log(rlog, RequestRecord)[rbefore:], time.time() - time.monotonic()
                engine.append(engine_side(recs)); split.append(latency_split(real, recs, offset))
            real = runs[0]
            w = res['workloads'][name] = {'requests': len(trace), **rate, 'measured': real, 'step_samples': steps[0], 'sent_runs': sents,
                                          'engine_runs': engine, 'split_runs': split}
            print(name, 'legs', split, flush=True)
            if a.repeats > 1:
                w['measured_runs'], w['step_samples_runs'] = runs, steps
                w['run_to_run'] = {k: (max(x[k] for x in runs) - min(x[k] for x in runs)) / np.mean([x[k] for x in runs]) for k in KEYS}
                print(name, 'run to run', {k: f'{v:.1%}' for k, v in w['run_to_run'].items()},
                      'measured', [{k: round(x[k], 1) for k in KEYS} for x in runs], flush=True)
            for fit, cost in costs.items():
                pred, err, secs = predict(trace, cost, blocks, limits, eng, real)
                key = '' if fit == 'server' else '_in_process'
                w['predicted' + key], w['error' + key], w['sim_wall_s' + key] = pred, err, secs
                if a.repeats > 1: w['error_runs' + key] = [fidelity(pred, x) for x in runs]
                if fit == 'server':   # the same, on the arrivals as the clients really sent them (each run its own)
                    predict_as_sent(w, trace, cost, blocks, limits, eng)
                    w['error_engine_runs'] = [engine_errors(pred, e, cost) for e in engine]
                    print(name, 'against the engine', [{k: f'{v:+.1%}' for k, v in e.items()} for e in w['error_engine_runs']],
                          'engine', [{k: round(v, 1) for k, v in e.items()} for e in engine], flush=True)
                    print(name, 'as sent', [{k: f'{v:+.1%}' for k, v in e.items()} for e in w['error_as_sent_runs']],
                          'send lag median/max ms', [(round(x['send_lag_median_ms']), round(x['send_lag_max_ms'])) for x in runs], flush=True)
                    chance(name, w, trace, cost, res['cost']['step_noise'], blocks, limits, eng)
                print(name, fit, {k: f'{v:+.1%}' for k, v in w['error' + key].items()}, 'measured', {k: round(real[k], 1) for k in KEYS},
                      'predicted', {k: round(pred[k], 1) for k in KEYS}, flush=True)
            if a.output_json: Path(a.output_json).write_text(json.dumps(res, separators=(',', ':')) + '\n')   # each workload kept as it ends
    finally:
        srv.terminate(); srv.wait(30); clients.shutdown()
    if a.speed:
        res['speed'] = speed(a.speed, costs['server'], blocks, limits)
        print('speed', res['speed'], flush=True)
    if a.output_json: Path(a.output_json).write_text(json.dumps(res, separators=(',', ':')) + '\n')   # steps make it megabytes: one line
    print(json.dumps(without_steps(res), indent=1))


def without_steps(o):
    "The result without its per-step and per-request lists (step samples, send times): what is worth printing."
    if isinstance(o, dict): return {k: without_steps(v) for k, v in o.items() if not k.startswith(('step_samples', 'sent_runs'))}
    return o


if __name__ == '__main__': main()
