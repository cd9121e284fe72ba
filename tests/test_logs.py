"""`--step-log` and `--request-log` of a live server: every request and every step it served, with times in order."""
from conftest import Server
from nano_serve.metrics import read_step_log, RequestRecord


def test_request_and_step_logs_record_what_was_served(tmp_path):
    steps, requests = tmp_path / 'steps.jsonl', tmp_path / 'requests.jsonl'
    s = Server('--no-dashboard', '--step-log', str(steps), '--request-log', str(requests))
    try:
        c = s.client()
        model = c.models.list().data[0].id
        asked = [(list(range(1000 * i + 100, 1000 * i + 100 + n)), m) for i, (n, m) in enumerate(((12, 3), (30, 5), (7, 1)))]   # no shared prefix
        for ids, m in asked:
            r = c.completions.create(model=model, prompt=ids, max_tokens=m, temperature=0, extra_body={'ignore_eos': True})
            assert r.usage.prompt_tokens == len(ids) and r.usage.completion_tokens == m
        s.wait_idle()
    finally: s.stop()
    recs = read_step_log(str(requests), RequestRecord)
    assert sorted((r.prompt_tokens, r.output_tokens) for r in recs) == sorted((len(ids), m) for ids, m in asked)
    for r in recs:
        assert r.arrival <= r.first_scheduled <= r.first_token <= r.finished and r.finish_reason == 'length'
    served = read_step_log(str(steps))
    assert sum(x.prefill_tokens for x in served) == sum(len(ids) for ids, _ in asked)   # each prompt prefilled once, no prefix shared
    assert served[0].time >= min(r.arrival for r in recs) and served[-1].time <= max(r.finished for r in recs) + 1   # one clock for both logs
