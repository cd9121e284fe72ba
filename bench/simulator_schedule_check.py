"""Issue 19: is the simulator's *schedule* right, apart from its prices? One trace served in-process, then simulated on
a cost model fitted to that very run's steps, with the arrivals as they really came.

    python bench/simulator_schedule_check.py [--workloads steady,bursty,long-prompt] [--output-json F]

The bundled model on an in-process `LLM` with the CPU preset's limits (`bench/simulator_fidelity.py`) and its
request log serves each workload trace in real time (`calibrate`). `StepCost.fit` on that run's own steps (every step
that followed a busy one) prices them; `simulate` replays the requests at the times the engine took them in. What is
left between the two, request by request, is the simulator's schedule: which steps each request shared with which.
The fidelity bench's errors mix that with how well a calibration's prices carry over to another trace a minute
later; this one takes the prices out.
"""
import argparse, json, os, sys, tempfile
import numpy as np
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'bench'))
from simulator_fidelity import PRESETS, trace_of
from cpu_peers import cpu_name, lscpu
from nano_serve.engine import LLM
from nano_serve.simulator import calibrate, StepCost, simulate, make_scheduler, TraceRequest
from nano_serve.metrics import read_step_log, RequestRecord


def check(llm, log: str, trace, limits: dict, blocks: int) -> dict:
    "Serve `trace` on `llm`, fit its own steps, simulate it on its real arrivals: per-request TPOT and TTFT, real and simulated, and their medians."
    before = len(read_step_log(log, RequestRecord))
    cost = StepCost.fit(calibrate(llm, [trace], warmup_steps=0))
    recs = sorted(read_step_log(log, RequestRecord)[before:], key=lambda r: r.arrival)
    t0 = recs[0].arrival
    sim = simulate([TraceRequest(r.arrival - t0, r.prompt_tokens, r.output_tokens) for r in recs], cost, make_scheduler(blocks, 16, **limits))
    got = {(round(a, 6), p, o): (f - a, (e - f) / (o - 1)) for a, f, e, p, o in
           zip(sim.arrival, sim.first_token, sim.finish, sim.prompt_tokens, sim.output_tokens)}
    real = [(r.first_token - r.arrival, (r.finished - r.first_token) / (r.output_tokens - 1)) for r in recs]
    simd = [got[(round(r.arrival - t0, 6), r.prompt_tokens, r.output_tokens)] for r in recs]
    ms = lambda xs, i: [x[i] * 1e3 for x in xs]
    out = {'real_ttft_ms': ms(real, 0), 'real_tpot_ms': ms(real, 1), 'sim_ttft_ms': ms(simd, 0), 'sim_tpot_ms': ms(simd, 1)}
    for k in ('ttft', 'tpot'):
        r, s = np.median(out[f'real_{k}_ms']), np.median(out[f'sim_{k}_ms'])
        out[f'median_{k}_ms'] = {'real': float(r), 'simulated': float(s), 'error': float(s / r - 1)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--workloads', default='steady,bursty,long-prompt'); ap.add_argument('--output-json', default=None)
    a = ap.parse_args()
    pre = PRESETS['cpu']
    log = os.path.join(tempfile.mkdtemp(), 'requests.jsonl')
    llm = LLM(None, num_kv_blocks=pre['blocks'], cpu_compile='auto', request_log=log, **pre['limits'])
    calibrate(llm, [trace_of(pre, 'steady')[:6]])   # warm-up
    res = {'machine': cpu_name(), 'cpu': lscpu(), 'workloads': {}}
    for name in a.workloads.split(','):
        w = res['workloads'][name] = check(llm, log, trace_of(pre, name), pre['limits'], pre['blocks'])
        print(name, {k: {kk: round(v, 3) for kk, v in w[k].items()} for k in ('median_ttft_ms', 'median_tpot_ms')}, flush=True)
    if a.output_json: Path(a.output_json).write_text(json.dumps(res, separators=(',', ':')) + '\n')


if __name__ == '__main__': main()
