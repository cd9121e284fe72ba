"""Issue 19: does a decode step's price need another form on the CPU? The linear price (base + a price per decode row)
against a piecewise one (a price at 1, 2, 4, 8, ... rows, straight lines between), on committed fidelity results.

    python bench/simulator_price_forms.py bench/results/simulator-fidelity-cpu-zen4-*.json [--output-json F]

On the Zen 4 EPYC a one-row step runs the compiled one-row graph (~20-25 ms) and a two-row step oneDNN's packed
matmul, which is slowest at two rows (~40-47 ms, as long as 3-8 rows): no straight line fits both. For each result,
both forms are fitted (1) on the calibration's steps, as the bench does, and (2) on each served run's own steps with
its arrivals as sent, which takes the transfer from calibration to workload out and leaves the price form and the
schedule. Each prints the errors of throughput, median TTFT and median TPOT per run, and how many are within 15%.
Nothing here changes `StepCost`: the piecewise form is an experiment (13a_experiments has what it found).
"""
import argparse, json, sys
from dataclasses import dataclass, replace
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'bench'))
from simulator_fidelity import PRESETS, engine_of, trace_of
from nano_serve.simulator import StepCost, simulate, make_scheduler, fidelity, as_sent, fit_prices


def hats(rows: np.ndarray, knots: list[int]) -> np.ndarray:
    "Piecewise-linear basis over decode rows: column j is 1 at knots[j] and falls to 0 at its neighbours (and at 0 rows); past the last knot, the last segment goes on."
    k, r = np.asarray(knots, float), np.asarray(rows, float)[:, None]
    left, right = np.concatenate([[0.0], k[:-1]]), np.concatenate([k[1:], [k[-1] + 1]])
    out = np.where(r <= k, np.clip((r - left) / (k - left), 0, 1), np.clip((right - r) / (right - k), 0, 1))
    if len(k) > 1:   # beyond the last knot: extend the last segment
        beyond, ext = r[:, 0] > k[-1], (r[:, 0] - k[-1]) / (k[-1] - k[-2])
        out[beyond, -1], out[beyond, -2] = 1 + ext[beyond], -ext[beyond]
    return out


@dataclass
class PiecewiseCost(StepCost):
    "`StepCost` whose decode rows are priced by a piecewise-linear curve through `row_costs` at `row_knots`."
    row_knots: tuple = ()
    row_costs: tuple = ()

    def predict(self, work) -> float:
        d = work[1]
        return super().predict(work) - self.per_decode_row * d + float(hats([d], list(self.row_knots))[0] @ np.array(self.row_costs))

    @classmethod
    def fit(cls, samples: list[tuple]) -> 'PiecewiseCost':
        "`StepCost.fit`'s prices (`fit_prices`), the decode-row column replaced by the curve's basis."
        samples = [s for s in samples if s[6] > 0]
        t, S = np.array([s[6] for s in samples]), np.array([s[:6] for s in samples], float)
        knots = [1]
        while knots[-1] < S[:, 1].max(): knots.append(2 * knots[-1])
        work = np.column_stack([np.ones(len(S)), S[:, 0], S[:, 2:6], S[:, 0] > 0, hats(S[:, 1], knots)])
        full = fit_prices(work, t)
        names = ('base', 'per_prefill_token', 'per_context_token', 'per_padded_context_token', 'per_prefill_pair', 'per_swapped_block', 'per_prefill_step')
        return cls(per_decode_row=0.0, **dict(zip(names, map(float, full[:7]))), row_knots=tuple(knots), row_costs=tuple(map(float, full[7:])))


def errors(res: dict, form, own: bool) -> dict:
    "Per workload, per run: the errors with prices of `form`, fitted on the calibration (`own` False) or on the run's own steps."
    pre, eng = PRESETS[res['preset']], engine_of(res['server_args'])
    latency = res['cost']['request_latency']
    calib = replace(form.fit([tuple(s) for s in res['cost']['step_samples']]), request_latency=latency)
    out = {}
    for name, w in res['workloads'].items():
        trace, runs = trace_of(pre, name, w), w.get('measured_runs', [w['measured']])
        steps, sents = w.get('step_samples_runs', [w['step_samples']]), w.get('sent_runs', [None] * len(runs))
        errs = []
        for m, st, sent in zip(runs, steps, sents):
            cost = replace(form.fit([tuple(s) for s in st]), request_latency=latency) if own else calib
            tr = as_sent(trace, sent) if own and sent else trace
            errs.append(fidelity(simulate(tr, cost, make_scheduler(res['num_kv_blocks'], 16, **res['limits']), **eng).summary(), m))
        out[name] = errs
    return out


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('results', nargs='+'); ap.add_argument('--output-json', default=None)
    a, report = ap.parse_args(), {}
    for path in a.results:
        res = json.loads(Path(path).read_text())
        for own in (False, True):
            for form in (StepCost, PiecewiseCost):
                e = errors(res, form, own)
                n = sum(abs(v) <= 0.15 for runs in e.values() for x in runs for v in x.values())
                total = sum(3 * len(runs) for runs in e.values())
                key = f"{Path(path).name} | {'own steps' if own else 'calibration'} | {'piecewise' if form is PiecewiseCost else 'linear'}"
                report[key] = {'within_15': n, 'figures': total, 'errors': e}
                print(f'{key}: {n}/{total} |', ' | '.join(f"{w}: TPOT " + ' '.join(f"{x['median_tpot_ms']:+.1%}" for x in runs) for w, runs in e.items()), flush=True)
    if a.output_json: Path(a.output_json).write_text(json.dumps(report, indent=1) + '\n')


if __name__ == '__main__': main()
