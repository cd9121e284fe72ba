"""Where does a decode step's time go on the GPU? Times each phase of LLM.step with synchronization, at batch 1 and 64.

    python bench/profile_step.py [model]
"""
import sys, time, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams
from nano_serve.runner import prepare_inputs

model = sys.argv[1] if len(sys.argv) > 1 else 'qwen3-0.6b'
llm = LLM(model, load_format='dummy', max_num_seqs=64)
runner, sched = llm.core.runner, llm.core.scheduler
calls = {'graph': 0}
orig = runner.graphs.run
def counted(x): calls['graph'] += 1; return orig(x)
runner.graphs.run = counted
for bs in (1, 64):
    for i in range(bs): llm.add_request(list(range(100, 228)), SamplingParams(temperature=0, max_tokens=200, ignore_eos=True))
    for _ in range(5): llm.step()
    T = {k: 0.0 for k in ['schedule', 'prepare', 'forward', 'sample', 'update+rest', 'step_total']}
    n = 50
    for _ in range(n):
        torch.cuda.synchronize(); t0 = time.perf_counter()
        b = sched.schedule(); t1 = time.perf_counter()
        x = prepare_inputs(b.chunks, llm.core.cache.block_size, runner.device); torch.cuda.synchronize(); t2 = time.perf_counter()
        logits = runner.graphs.run(x) if runner.graphs.fits(x) else None; torch.cuda.synchronize(); t3 = time.perf_counter()
        res = runner.sampler(logits, [c for c in b.chunks if c.sample]); t4 = time.perf_counter()
        sched.update(b, res.sampled); t5 = time.perf_counter()
        T['schedule'] += t1 - t0; T['prepare'] += t2 - t1; T['forward'] += t3 - t2; T['sample'] += t4 - t3; T['update+rest'] += t5 - t4
    for _ in range(n // 5): pass
    torch.cuda.synchronize(); t0 = time.perf_counter()
    for _ in range(n): llm.step()
    torch.cuda.synchronize(); T['step_total'] = time.perf_counter() - t0
    print(f'bs={bs}', {k: f'{v / n * 1e3:.3f} ms' for k, v in T.items()}, 'graph calls', calls['graph'], flush=True)
    for r in list(sched.running) + list(sched.waiting): llm.abort(r.request_id)
# the raw graph replay alone
x = None
g, out = runner.graphs.graphs[1]
torch.cuda.synchronize(); t0 = time.perf_counter()
for _ in range(100): g.replay()
torch.cuda.synchronize(); print('bare replay bs1 ms', (time.perf_counter() - t0) / 100 * 1e3)
