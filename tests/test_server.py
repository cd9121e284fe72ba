"""The HTTP service driven by the official openai client: completions, chat, streaming, n, stop, logprobs, usage,
bad input, disconnects, admission control, API keys, shutdown and concurrency."""
import asyncio, json, signal, socket, time, urllib.request, urllib.error
import pytest
from openai import AsyncOpenAI, BadRequestError, NotFoundError, AuthenticationError, RateLimitError
from conftest import Server

MODEL = 'SmolLM2-135M-Instruct'


def post(base, path, body, headers=None):
    "Raw POST returning (status, parsed JSON body)."
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={'Content-Type': 'application/json', **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r: return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read())


def test_models_and_health(server):
    c = server.client()
    assert [m.id for m in c.models.list().data] == [MODEL]
    assert urllib.request.urlopen(server.base + '/health').status == 200


def test_completion_streamed_equals_plain(server):
    c = server.client()
    kw = dict(model=MODEL, prompt='The three primary colors are', max_tokens=24, temperature=0)
    plain = c.completions.create(**kw)
    chunks = list(c.completions.create(**kw, stream=True, stream_options={'include_usage': True}))
    text = ''.join(ch.choices[0].text for ch in chunks if ch.choices)
    assert text == plain.choices[0].text and text
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens == 24
    from nano_serve.model import load_tokenizer, resolve_model_source
    tok = load_tokenizer(*resolve_model_source(None, 'auto'))
    assert plain.usage.prompt_tokens == len(tok(kw['prompt'])['input_ids']) and plain.choices[0].finish_reason == 'length'


def test_chat_streamed_equals_plain(server):
    c = server.client()
    kw = dict(model=MODEL, messages=[{'role': 'user', 'content': 'Say hello in French.'}], max_tokens=20, temperature=0)
    plain = c.chat.completions.create(**kw)
    chunks = list(c.chat.completions.create(**kw, stream=True, stream_options={'include_usage': True}))
    assert chunks[0].choices[0].delta.role == 'assistant'
    text = ''.join(ch.choices[0].delta.content or '' for ch in chunks if ch.choices)
    assert text == plain.choices[0].message.content and text
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens
    assert plain.choices[0].finish_reason in ('stop', 'length')


def test_n_seed_and_prompt_lists(server):
    c = server.client()
    r = c.completions.create(model=MODEL, prompt=['Once upon a time', 'In a galaxy'], n=3, max_tokens=8, temperature=1.0, seed=42)
    assert sorted(ch.index for ch in r.choices) == list(range(6))
    again = c.completions.create(model=MODEL, prompt=['Once upon a time', 'In a galaxy'], n=3, max_tokens=8, temperature=1.0, seed=42)
    assert [ch.text for ch in r.choices] == [ch.text for ch in again.choices]     # seeded: reproducible
    assert len({ch.text for ch in r.choices[:3]}) > 1                            # n samples differ
    ids = c.completions.create(model=MODEL, prompt=[504, 3575, 282, 4649, 314], max_tokens=4, temperature=0)
    text = c.completions.create(model=MODEL, prompt='The capital of France is', max_tokens=4, temperature=0)
    assert ids.choices[0].text == text.choices[0].text


def test_stop_strings_and_logprobs(server):
    c = server.client()
    r = c.completions.create(model=MODEL, prompt='Count: 1, 2, 3,', max_tokens=20, temperature=0, stop=[' 6'])
    assert r.choices[0].finish_reason == 'stop' and ' 6' not in r.choices[0].text and r.choices[0].text.startswith(' 4')
    s = ''.join(ch.choices[0].text for ch in c.completions.create(model=MODEL, prompt='Count: 1, 2, 3,', max_tokens=20, temperature=0, stop=[' 6'], stream=True))
    assert s == r.choices[0].text
    lp = c.completions.create(model=MODEL, prompt='Hello', max_tokens=5, temperature=0, logprobs=3).choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == 5 and all(len(t) == 3 for t in lp.top_logprobs)
    assert all(v <= 0 for v in lp.token_logprobs) and max(lp.top_logprobs[0].values()) == pytest.approx(lp.token_logprobs[0], abs=1e-4)
    ch = c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'Hi'}], max_tokens=3, temperature=0, logprobs=True, top_logprobs=2)
    assert len(ch.choices[0].logprobs.content[0].top_logprobs) == 2
    echo = c.completions.create(model=MODEL, prompt='Echo me', max_tokens=3, temperature=0, echo=True)
    assert echo.choices[0].text.startswith('Echo me')


def test_vllm_extra_fields(server):
    c = server.client()
    r = c.completions.create(model=MODEL, prompt='Hi', max_tokens=10, temperature=0.7,
                             extra_body={'top_k': 20, 'min_p': 0.05, 'repetition_penalty': 1.2, 'ignore_eos': True, 'priority': 1})
    assert r.usage.completion_tokens == 10


BAD = [
    (b'{not json', 400), ({'prompt': 'hi', 'model': 'gpt-9'}, 404), ({'model': MODEL}, 400),
    ({'prompt': 'hi', 'max_tokens': 0}, 400), ({'prompt': 'hi', 'max_tokens': 'ten'}, 400),
    ({'prompt': 'hi', 'temperature': -1}, 400), ({'prompt': 'hi', 'top_p': 1.5}, 400), ({'prompt': 'hi', 'n': 0}, 400),
    ({'prompt': ''}, 400), ({'prompt': []}, 400), ({'prompt': 12}, 400), ({'prompt': [1, -5]}, 400),
    ({'prompt': [10**9]}, 400), ({'prompt': 'hi', 'stop': [1, 2]}, 400), ({'prompt': 'word ' * 9000}, 400),
    ({'prompt': 'hi', 'max_tokens': 100000}, 400), ({'prompt': 'hi', 'logprobs': 50}, 400), ([1, 2, 3], 400),
]

@pytest.mark.parametrize('body,status', BAD)
def test_bad_completion_requests(server, body, status):
    code, err = post(server.base, '/v1/completions', body)
    assert code == status, (code, err)
    assert set(err['error']) == {'message', 'type', 'param', 'code'} and err['error']['message']


def test_bad_chat_requests_and_engine_survives(server):
    for body in [{}, {'messages': []}, {'messages': [{'role': 'wizard', 'content': 'x'}]}, {'messages': 'hello'},
                 {'messages': [{'role': 'user', 'content': 'hi'}], 'temperature': 'warm'}]:
        code, err = post(server.base, '/v1/chat/completions', body)
        assert code == 400 and err['error']['message'], (body, code, err)
    with pytest.raises(BadRequestError):
        server.client().completions.create(model=MODEL, prompt='hi', max_tokens=-1)
    with pytest.raises(NotFoundError):
        server.client().completions.create(model='other', prompt='hi')
    assert server.client().completions.create(model=MODEL, prompt='still alive?', max_tokens=2, extra_body={'ignore_eos': True}).usage.completion_tokens == 2
    m = server.wait_idle()
    assert m['nano_serve:kv_cache_usage_perc'] == 0


def test_disconnect_mid_stream_frees_everything(server):
    with socket.create_connection(('127.0.0.1', server.port)) as s:
        body = json.dumps({'model': MODEL, 'prompt': 'Tell me a very long story.', 'max_tokens': 2000, 'ignore_eos': True, 'stream': True}).encode()
        s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
        got = b''
        while got.count(b'data:') < 5: got += s.recv(4096)
        assert server.metrics()['nano_serve:num_requests_running'] == 1
    m = server.wait_idle(timeout=10)
    assert m['nano_serve:kv_cache_usage_perc'] == 0


@pytest.mark.slow
def test_64_concurrent_streams_match_sequential(server):
    prompts = [f'Write one sentence about the number {i}.' for i in range(64)]
    async def one(c, p):
        stream = await c.completions.create(model=MODEL, prompt=p, max_tokens=8, temperature=0, stream=True)
        return ''.join([ch.choices[0].text async for ch in stream])
    async def all_at_once():
        c = AsyncOpenAI(base_url=f'{server.base}/v1', api_key='none', max_retries=0, timeout=600)
        return await asyncio.gather(*(one(c, p) for p in prompts))
    together = asyncio.run(all_at_once())
    c, picked = server.client(), list(range(0, 64, 4)) + [63]   # a quarter of them one by one (all 64 took most of the test's 58 s)
    alone = [c.completions.create(model=MODEL, prompt=prompts[i], max_tokens=8, temperature=0).choices[0].text for i in picked]
    assert [together[i] for i in picked] == alone and len(set(together)) > 32   # and the streams are not all one text
    assert server.wait_idle()['nano_serve:kv_cache_usage_perc'] == 0


def test_api_key_admission_control_and_shutdown():   # under the fair-share policy, tenants from `user`
    s = Server('--no-dashboard', '--api-key', 'sekret', '--max-waiting', '2', '--max-num-seqs', '1', '--scheduling-policy', 'fair')
    try:
        with pytest.raises(AuthenticationError):
            s.client(api_key='wrong').completions.create(model=MODEL, prompt='hi', max_tokens=2)
        assert urllib.request.urlopen(s.base + '/health').status == 200          # health stays open
        ok = s.client(api_key='sekret').completions.create(model=MODEL, prompt='hi', max_tokens=2)
        assert ok.usage.completion_tokens == 2
        async def flood():
            c = AsyncOpenAI(base_url=f'{s.base}/v1', api_key='sekret', max_retries=0, timeout=120)
            return await asyncio.gather(*(c.completions.create(model=MODEL, prompt='x', max_tokens=16, user=f'tenant{i % 2}', extra_body={'ignore_eos': True})
                                          for i in range(8)), return_exceptions=True)
        res = asyncio.run(flood())
        limited = [r for r in res if isinstance(r, RateLimitError)]
        assert limited and all(r.response.headers.get('retry-after') for r in limited)
        assert any(not isinstance(r, Exception) for r in res)
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(10) == 0 and time.time() - t0 < 10
    finally:
        s.stop()


@pytest.mark.slow
@pytest.mark.parametrize('config', ['{"method": "ngram", "num_speculative_tokens": 4}',
                                    '{"method": "draft_model", "model": null, "num_speculative_tokens": 3, "adaptive": false}'])
def test_speculative_server_streams_the_same_text(server, config):
    "A server that speculates (prompt lookup; a draft model, here the bundled model drafting for itself): several tokens per step still stream as the plain server's text, and /metrics counts accepted drafts."
    s = Server('--no-dashboard', '--speculative-config', config)
    try:
        prompts = {'Repeat after me: red green blue red green blue red green blue': 40, 'The three primary colors are': 16}   # (n-gram drafts hit after ~24 tokens)
        for p, n in prompts.items():
            kw = dict(model=MODEL, prompt=p, max_tokens=n, temperature=0)
            want = server.client().completions.create(**kw).choices[0].text
            streamed = ''.join(ch.choices[0].text for ch in s.client().completions.create(**kw, stream=True) if ch.choices)
            assert streamed == want == s.client().completions.create(**kw).choices[0].text
        m = s.wait_idle()
        assert m['nano_serve:spec_decode_num_accepted_tokens_total'] > 0 and m['nano_serve:kv_cache_usage_perc'] == 0
    finally:
        s.stop()


def test_cpu_compile_auto_without_a_compiler_serves_eagerly(server, tmp_path):
    "The default `--cpu-compile auto` where inductor finds no C++ compiler ($CXX pointed nowhere): a warning, eager steps, the same text."
    log = tmp_path / 'server.log'
    s = Server('--no-dashboard', '--cpu-compile', 'auto', '--log-level', 'info', env={'CXX': '/nonexistent/c++'}, log=log)
    try:
        kw = dict(model=MODEL, prompt='The three primary colors are', max_tokens=16, temperature=0)
        assert s.client().completions.create(**kw).choices[0].text == server.client().completions.create(**kw).choices[0].text
    finally:
        s.stop()
    text = log.read_text()
    assert 'decode steps run eagerly' in text and 'InvalidCxxCompiler' in text and 'cpu_compiled_decode False' in text, text[-2000:]


def tiny_llama(folder) -> str:
    "A two-layer random Llama with the bundled model's tokenizer, as a Hugging Face folder (compiles in seconds, not minutes)."
    import torch
    from transformers import AutoConfig, LlamaForCausalLM
    from nano_serve.model import bundled_model_path, load_tokenizer
    torch.manual_seed(0)
    cfg = AutoConfig.for_model('llama', hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, vocab_size=49152, max_position_embeddings=2048)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    load_tokenizer('gguf', bundled_model_path()).save_pretrained(folder)
    return str(folder)


@pytest.mark.slow
def test_default_server_compiles_its_decode_step(tmp_path):
    "`--cpu-compile auto`, the default, on this CPU: the decode step compiled before the server is ready; the eager server's greedy text."
    model, log = tiny_llama(tmp_path / 'tiny'), tmp_path / 'server.log'
    compiled = Server('--no-dashboard', '--model', model, '--cpu-compile', 'auto', '--log-level', 'info', log=log)
    eager = Server('--no-dashboard', '--model', model)
    try:
        for p in ['The three primary colors are', 'Write a haiku about the sea.']:
            kw = dict(model='tiny', prompt=p, max_tokens=32, temperature=0, extra_body={'ignore_eos': True})
            assert compiled.client().completions.create(**kw).choices[0].text == eager.client().completions.create(**kw).choices[0].text
    finally:
        compiled.stop(); eager.stop()
    assert 'cpu_compiled_decode True' in log.read_text()
    assert "rows: nano-serve's C++ kernel" in log.read_text()   # the products of few rows (00a_cpu_kernels), named at startup
