"""What a grammar costs per step, like for like: the same requests, the same number of decode steps, with and without masks.

    python bench/structured_cost.py [--model PATH] [--requests 32] [--max-tokens 64] [--out DIR]

Offline engine (`LLM.generate`), greedy, `ignore_eos`, every request `--max-tokens` long, three runs in one process:
  free      no constraint;
  letters   every request held to the grammar `root ::= [a-z ]* "\u0000"` (lower-case letters and spaces, ended only by a
            NUL character no sensible token spells), so the runs take the same steps while a mask is filled, sent and
            applied for every row of every step. (A first version used the regex `[a-z ]{1024,}`: xgrammar's matcher
            spends ~0.4 ms a token on so long a bounded repetition, which measured the regex, not the engine.)
  letters, plain steps   the same with overlapped scheduling off (on a GPU; how constrained requests ran before they
            kept the overlap), and `free, plain steps` beside it;
  schema    the nested JSON schema of tests/test_structured.py, without `ignore_eos` (outputs end when the object does):
            how many of the outputs validate, for random weights too.
Default model: the bundled SmolLM2 on the CPU in float32; on a GPU, pass an HF folder (bench/make_hf_folder.py) and
it runs in bf16. Result: DIR/structured-cost-<device>.json.
"""
import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / 'tests'))


def main():
    import torch
    from nano_serve.engine import LLM, SamplingParams
    from test_structured import SCHEMA, PROMPTS, valid
    p = argparse.ArgumentParser()
    p.add_argument('--model', default=None); p.add_argument('--requests', type=int, default=32)
    p.add_argument('--max-tokens', type=int, default=64); p.add_argument('--out', default=os.environ.get('OUT', str(ROOT / 'bench' / 'results')))
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    llm = LLM(a.model, dtype='bfloat16' if cuda else 'float32', max_num_seqs=max(a.requests, 8), **({} if cuda else {'num_kv_blocks': 1024}))
    tok = llm.tokenizer
    prompts = [tok.apply_chat_template([{'role': 'user', 'content': q}], tokenize=False, add_generation_prompt=True)
               for q in (PROMPTS * (a.requests // len(PROMPTS) + 1))[:a.requests]]
    base = dict(temperature=0, max_tokens=a.max_tokens)
    letters = SamplingParams(**base, ignore_eos=True, structured_outputs={'grammar': 'root ::= [a-z ]* "\\u0000"'})
    runs = {'free': SamplingParams(**base, ignore_eos=True), 'letters': letters,
            'schema': SamplingParams(**base, structured_outputs={'json': SCHEMA})}
    if llm.core.async_scheduling: runs |= {'free, plain steps': runs['free'], 'letters, plain steps': letters}
    llm.generate(prompts, SamplingParams(**{**base, 'max_tokens': 32}, ignore_eos=True), use_tqdm=False)   # warm-up at full size
    cons, host = llm.runner.sampler.constraints, {'mask': 0.0, 'accept': 0.0, 'staging': 0.0, 'fill': 0.0, 'apply': 0.0}
    def timed(f, key):   # the host's grammar work: filling masks, accepting tokens
        def g(*a, **k):
            t = time.perf_counter(); r = f(*a, **k); host[key] += time.perf_counter() - t; return r
        return g
    cons.mask, cons.accept = timed(cons.mask, 'mask'), timed(cons.accept, 'accept')   # mask: bitmask + fill + apply
    cons.staging, cons.apply = timed(cons.staging, 'staging'), timed(cons.apply, 'apply')
    res, extra, overlap = {}, {}, llm.core.async_scheduling
    for name, sp in runs.items():
        llm.core.async_scheduling = overlap and 'plain' not in name
        llm.generate(prompts[:2], sp, use_tqdm=False)   # compile the grammar outside the timing
        if cons.batch is not None and not hasattr(cons.batch, 'timed'):   # xgrammar's own fill, once it exists
            cons.batch.batch_fill_next_token_bitmask, cons.batch.timed = timed(cons.batch.batch_fill_next_token_bitmask, 'fill'), True
        steps0, host0 = llm.stats()['num_steps'], dict(host)
        if cuda: torch.cuda.synchronize()
        t0 = time.perf_counter()
        outs = llm.generate(prompts, sp, use_tqdm=False)
        if cuda: torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        n = sum(len(o.outputs[0].token_ids) for o in outs)
        steps = llm.stats()['num_steps'] - steps0
        res[name] = {'seconds': dt, 'output_tokens': n, 'output_tok_s': n / dt, 'steps': steps, 'ms_per_step': dt / steps * 1e3,
                     'host_ms_per_step': {k: (host[k] - host0[k]) / steps * 1e3 for k in host}}
        if name == 'schema': res[name]['valid'] = sum(valid(o.outputs[0].text) for o in outs)
        if name == 'letters': res[name]['all_match'] = all(set(o.outputs[0].text) <= set('abcdefghijklmnopqrstuvwxyz ') for o in outs)
        print(name, res[name], flush=True)
    if cons.grammars is not None:   # xgrammar's fill alone on this host's CPU, 128 rows of the letters grammar, by thread count
        import xgrammar as xgr
        ms = [cons.grammars.matcher(letters.structured_outputs) for _ in range(128)]
        bm, fill = xgr.allocate_token_bitmask(128, cons.grammars.tokens), {}
        for th in (1, 2, 4, 8, 16, 'auto'):
            b = xgr.BatchGrammarMatcher(th); b.batch_fill_next_token_bitmask(ms, bm, list(range(128)))
            t = time.perf_counter()
            for _ in range(20): b.batch_fill_next_token_bitmask(ms, bm, list(range(128)))
            fill[th] = (time.perf_counter() - t) / 20 * 1e3
        extra['fill_128_rows_ms_by_threads'] = fill
        print('fill, 128 rows, ms by threads', {k: round(v, 3) for k, v in fill.items()}, flush=True)
    if cuda:   # which calls still make the host wait for the device during overlapped constrained steps (PyTorch's sync debug mode)
        import warnings, collections
        llm.core.async_scheduling = overlap
        torch.cuda.set_sync_debug_mode('warn')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            llm.generate(prompts, SamplingParams(**{**base, 'max_tokens': 16}, ignore_eos=True, structured_outputs=letters.structured_outputs), use_tqdm=False)
        torch.cuda.set_sync_debug_mode(0)
        extra['synchronizing_calls'] = collections.Counter(f'{Path(w.filename).name}:{w.lineno}' for w in caught if 'synchroniz' in str(w.message))
        print('synchronizing calls (file:line: count)', dict(extra['synchronizing_calls']), flush=True)
    cpu = next((l.split(':', 1)[1].strip() for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines()
                if l.startswith('Model name')), platform.processor())
    out = {'command': 'python bench/structured_cost.py ' + ' '.join(sys.argv[1:]), 'device': torch.cuda.get_device_name() if cuda else cpu,
           'cpu': cpu, 'threads': torch.get_num_threads(), 'model': a.model or 'bundled SmolLM2-135M (float32)', 'requests': a.requests,
           'max_tokens': a.max_tokens, 'paths': llm.core.paths(), 'runs': res, **extra,
           'mask_cost': 1 - res['letters']['output_tok_s'] / res['free']['output_tok_s']}
    if 'letters, plain steps' in res: out['mask_cost_plain_steps'] = 1 - res['letters, plain steps']['output_tok_s'] / res['free']['output_tok_s']
    print(f"a mask on every row of every step costs {out['mask_cost']:.1%} of output tok/s", flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / f"structured-cost-{'gpu' if cuda else 'cpu'}.json").write_text(json.dumps(out, indent=1, default=str))


if __name__ == '__main__': main()
