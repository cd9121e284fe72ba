"""GPU smoke check of issue 17's drafts under a grammar: constrained requests (a JSON schema, a regex) drafted by prompt
lookup and by a draft model, with CUDA graphs, on a random-weight qwen3-0.6b shape with the bundled tokenizer
(bench/make_hf_folder.py). Random weights guess nothing right, so this checks that masked verification runs on the
device (masks applied to views of the verification rows), that every output fits its grammar, and that no block
leaks; the same with drafts off, beside it. Writes $OUT/structured-drafts-gpu.json.

    python bench/structured_drafts_gpu.py HF_FOLDER
"""
import json, os, re, sys, time
from pathlib import Path
import torch, jsonschema
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.engine import LLM, SamplingParams

folder = sys.argv[1]
SCHEMA = {'type': 'object', 'additionalProperties': False, 'required': ['name', 'age'],
          'properties': {'name': {'type': 'string', 'maxLength': 12}, 'age': {'type': 'integer', 'minimum': 0, 'maximum': 120}}}
REGEX = r'[A-Z][a-z]{2,8} is [0-9]{2}'
prompt = 'Return this record as JSON: {"name": "Ada", "age": 36}. Then say: Ada is 36.'
R = {'gpu': torch.cuda.get_device_name(0), 'date': time.strftime('%Y-%m-%d'), 'runs': {}}
for name, spec in (('plain', None), ('ngram', {'method': 'ngram', 'num_speculative_tokens': 4, 'adaptive': False}),
                   ('draft model', {'method': 'draft_model', 'model': folder, 'num_speculative_tokens': 3, 'adaptive': False})):
    llm = LLM(folder, max_num_seqs=32, num_kv_blocks=4096, speculative_config=spec)   # (a draft model sizes its pool like the target's)
    params = [SamplingParams(temperature=t, seed=i, max_tokens=48, structured_outputs={'json': SCHEMA} if i % 2 == 0 else {'regex': REGEX})
              for i, t in enumerate([0.0] * 8 + [1.0] * 8)]
    t0 = time.perf_counter()
    outs = [o.outputs[0] for o in llm.generate([prompt] * len(params), params, use_tqdm=False)]
    secs = time.perf_counter() - t0
    ok = 0
    for i, o in enumerate(outs):
        try:
            if i % 2 == 0: jsonschema.validate(json.loads(o.text), SCHEMA)
            else: assert re.fullmatch(REGEX, o.text)
            ok += 1
        except Exception as e: print(name, 'bad output', repr(o.text)[:120], o.finish_reason, flush=True)
    st = llm.stats()
    R['runs'][name] = {'valid': ok, 'of': len(outs), 'seconds': secs, 'draft_tokens': st.get('spec_draft_tokens'),
                       'accepted': st.get('spec_accepted_tokens'), 'steps': st.get('num_steps'),
                       'blocks_owned_after': len(llm.core.allocator.tables),
                       'greedy_texts': [o.text for o in outs[:8]]}
    print(name, json.dumps({k: v for k, v in R['runs'][name].items() if k != 'greedy_texts'}), flush=True)
    del llm; torch.cuda.empty_cache()
R['greedy_equal_to_plain'] = {k: sum(a == b for a, b in zip(v['greedy_texts'], R['runs']['plain']['greedy_texts'])) for k, v in R['runs'].items()}
print('greedy equal to plain (of 8):', R['greedy_equal_to_plain'])
if os.environ.get('OUT'): Path(os.environ['OUT'], 'structured-drafts-gpu.json').write_text(json.dumps(R, indent=1))
