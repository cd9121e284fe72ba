"""Tensor parallelism on the CPU (gloo): two ranks give one process's greedy tokens; a killed rank is named, not waited on."""
import os, signal, time

import psutil, pytest
from conftest import Server
from nano_serve.engine import LLM, SamplingParams

LONG = ' '.join(f'Item {i}: the {w} of the {v}.' for i, (w, v) in
                enumerate(zip(['colour', 'weight', 'price', 'shape'] * 40, ['river', 'house', 'engine', 'garden'] * 40)))


def greedy_ids(llm, prompts, max_tokens=16) -> list[list[int]]:
    params = SamplingParams(temperature=0, max_tokens=max_tokens)
    return [o.outputs[0].token_ids for o in llm.generate(prompts, params, use_tqdm=False)]


@pytest.mark.slow
def test_two_ranks_match_one_process():
    prompts = ['The three primary colors are', 'Write a haiku about the sea.', 'def quicksort(xs):',
               LONG + '\nSummarise the list above in one sentence:']
    one = LLM(device='cpu', dtype='float32', num_kv_blocks=256, max_num_batched_tokens=512)
    assert len(one.tokenizer(prompts[-1])['input_ids']) > 1000
    want = greedy_ids(one, prompts)
    del one
    two = LLM(device='cpu', dtype='float32', num_kv_blocks=256, max_num_batched_tokens=512, tensor_parallel_size=2)
    try:
        assert two.core.model.kv_heads == 2 and two.core.paths()['tensor_parallel'] == 2   # 3 kv heads: 2 here, 1 on rank 1
        assert greedy_ids(two, prompts) == want
        two.core.allocator.assert_idle()
    finally: two.close()


def test_killed_rank_is_named_quickly():
    llm = LLM(device='cpu', dtype='float32', num_kv_blocks=64, tensor_parallel_size=2)
    follower = llm.core.followers.procs[0]
    os.kill(follower.pid, signal.SIGKILL); follower.join(5)
    t0 = time.time()
    with pytest.raises(RuntimeError, match=r'tensor-parallel rank 1 .*died'):
        greedy_ids(llm, ['Hello there'])
    assert time.time() - t0 < 10
    llm.close()


def test_too_many_ranks_is_refused_before_any_process_starts():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(ValueError, match='larger than the model'):
        LLM(device='cpu', dtype='float32', num_kv_blocks=64, tensor_parallel_size=4)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


@pytest.mark.slow
def test_server_with_two_ranks_streams_and_stops_cleanly():
    srv = Server('--tensor-parallel-size', '2', '--dtype', 'float32', '--num-kv-blocks', '128', '--no-dashboard')
    try:
        core = psutil.Process(srv.health()[1]['engine_core_pid'])
        ranks = core.children()
        assert len(ranks) >= 1
        text = ''.join(c.choices[0].text or '' for c in srv.client().completions.create(
            model='SmolLM2-135M-Instruct', prompt='The capital of France is', max_tokens=8, temperature=0, stream=True))
        assert text.strip()
    finally:
        srv.proc.send_signal(signal.SIGTERM); srv.proc.wait(30)
    t0 = time.time()      # no orphans: the core and its follower end with the server
    while time.time() - t0 < 10 and any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in [core, *ranks]): time.sleep(0.2)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in [core, *ranks])


@pytest.mark.slow
def test_followers_wait_out_an_idle_engine(monkeypatch):
    "A server idles for minutes between requests: a follower must not give up waiting for the next step (it did at the group's 60 s)."
    from nano_serve import workers
    monkeypatch.setattr(workers.Followers.__init__, '__defaults__', (20, True))   # the groups' timeout: 20 s (joining needs a few)
    llm = LLM(device='cpu', dtype='float32', num_kv_blocks=64, tensor_parallel_size=2)
    try:
        first = greedy_ids(llm, ['Hello there'], 4)
        time.sleep(23)                                      # longer than the timeout with no step sent
        assert llm.core.followers.dead() is None
        assert greedy_ids(llm, ['Hello there'], 4) == first
    finally: llm.close()


def test_unknown_all_reduce_is_refused_before_any_process_starts():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(ValueError, match="'push' or 'one-shot'"):
        LLM(device='cpu', dtype='float32', num_kv_blocks=64, tensor_parallel_size=2, custom_all_reduce='ring')
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
