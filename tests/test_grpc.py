"""The gRPC service driven by real gRPC clients (the generated stub, sync and asyncio): same tokens as HTTP, 32
concurrent streams, cancel, deadlines, Abort, bad arguments, API key, health through shutdown, reflection."""
import asyncio, json, signal, time
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nano_serve.proto import nano_serve_pb2 as pb, nano_serve_pb2_grpc as pb_grpc
from conftest import Server

MODEL = 'SmolLM2-135M-Instruct'


def stub_for(server, aio=False):
    "A Generator stub on a fresh channel to the server's gRPC port."
    target = f'127.0.0.1:{server.grpc_port}'
    return pb_grpc.GeneratorStub(grpc.aio.insecure_channel(target) if aio else grpc.insecure_channel(target))


def wait_freed(server, timeout=10):
    "Wait until nothing runs and every KV block is back (the requests were aborted, not left running)."
    m = server.wait_idle(timeout=timeout)
    assert m['nano_serve:kv_cache_usage_perc'] == 0 and m['nano_serve:num_requests_running'] == 0
    return m


def test_same_greedy_request_same_tokens_and_text_as_http(server):
    stub, c = stub_for(server), server.client()
    prompt = 'The three primary colors are'
    msgs = list(stub.Generate(pb.GenerateRequest(text=prompt, sampling=pb.SamplingParams(temperature=0, max_tokens=24, logprobs=1)), timeout=60))
    text, ids = ''.join(m.text for m in msgs), [t for m in msgs for t in m.token_ids]
    http = list(c.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, logprobs=1, stream=True,
                                     stream_options={'include_usage': True}))
    assert text == ''.join(ch.choices[0].text for ch in http if ch.choices) and len(ids) == http[-1].usage.completion_tokens == 24
    http_lps = c.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, logprobs=1).choices[0].logprobs.token_logprobs
    grpc_lps = [lp.logprob for m in msgs for lp in m.logprobs]
    assert len(grpc_lps) == 24 and grpc_lps == pytest.approx(http_lps, abs=1e-5)
    assert all(lp.top[0].token_id == lp.token_id for m in msgs for lp in m.logprobs)   # greedy: the top token was taken
    assert msgs[-1].finish_reason == 'length' and msgs[-1].usage.prompt_tokens == http[-1].usage.prompt_tokens
    # the tokens in, and a chat: the same answers as HTTP's
    again = list(stub.Generate(pb.GenerateRequest(token_ids=pb.TokenIds(ids=[504, 3575, 282, 4649, 314]),
                                                  sampling=pb.SamplingParams(temperature=0, max_tokens=4)), timeout=60))
    assert ''.join(m.text for m in again) == c.completions.create(model=MODEL, prompt=[504, 3575, 282, 4649, 314], max_tokens=4, temperature=0).choices[0].text
    chat = [pb.ChatMessage(role='user', content='Say hello in French.')]
    g = ''.join(m.text for m in stub.Generate(pb.GenerateRequest(messages=pb.ChatMessages(messages=chat), sampling=pb.SamplingParams(temperature=0, max_tokens=12)), timeout=60))
    h = c.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'Say hello in French.'}], max_tokens=12, temperature=0)
    assert g == h.choices[0].message.content and g
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert info.model_name == MODEL and info.max_model_len > 0 and info.vocab_size == 49152 and info.has_tokenizer


def test_32_concurrent_streams_complete(server):
    async def main():
        stub = stub_for(server, aio=True)
        async def one(i):
            call = stub.Generate(pb.GenerateRequest(text=f'Write one sentence about the number {i}.',
                                                    sampling=pb.SamplingParams(temperature=0, max_tokens=10, ignore_eos=True)), timeout=300)
            msgs = [m async for m in call]
            return ''.join(m.text for m in msgs), sum(len(m.token_ids) for m in msgs), msgs[-1].finish_reason
        return await asyncio.gather(*(one(i) for i in range(32)))
    results = asyncio.run(main())
    assert all(n == 10 and why == 'length' and text for text, n, why in results)
    assert len({text for text, _, _ in results}) > 16          # different prompts, different answers
    wait_freed(server)


def test_cancel_deadline_and_abort_free_the_blocks(server):
    long = pb.SamplingParams(temperature=0, max_tokens=2000, ignore_eos=True)
    stub = stub_for(server)
    # the client cancels mid-stream
    call = stub.Generate(pb.GenerateRequest(text='Tell me a very long story.', sampling=long), timeout=120)
    for _ in range(3): next(call)
    assert server.metrics()['nano_serve:num_requests_running'] == 1
    call.cancel()
    wait_freed(server)
    # a deadline shorter than the generation
    with pytest.raises(grpc.RpcError) as e:
        for _ in stub.Generate(pb.GenerateRequest(text='Tell me a very long story.', sampling=long), timeout=1.5): pass
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_freed(server)
    # Abort by the caller's request id, from another call
    call = stub.Generate(pb.GenerateRequest(request_id='story-1', text='Tell me a very long story.', sampling=long), timeout=120)
    first = next(call)
    assert first.request_id == 'story-1'
    dup = stub.Generate(pb.GenerateRequest(request_id='story-1', text='again'), timeout=10)
    with pytest.raises(grpc.RpcError) as e: next(dup)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert list(stub.Abort(pb.AbortRequest(request_ids=['story-1', 'nobody']), timeout=10).aborted) == ['story-1']
    with pytest.raises(grpc.RpcError) as e:
        for _ in call: pass
    assert e.value.code() == grpc.StatusCode.CANCELLED
    wait_freed(server)


@pytest.mark.parametrize('req, words', [
    (pb.GenerateRequest(text='hi', sampling=pb.SamplingParams(temperature=-1)), 'temperature'),
    (pb.GenerateRequest(text='hi', sampling=pb.SamplingParams(top_p=1.5)), 'top_p'),
    (pb.GenerateRequest(text='hi', sampling=pb.SamplingParams(max_tokens=0)), 'max_tokens'),
    (pb.GenerateRequest(sampling=pb.SamplingParams(max_tokens=4)), 'needs an input'),
    (pb.GenerateRequest(text=''), 'empty'),
    (pb.GenerateRequest(token_ids=pb.TokenIds(ids=[10**7])), 'token'),
    (pb.GenerateRequest(text='word ' * 9000), 'context'),
    (pb.GenerateRequest(text='hi', sampling=pb.SamplingParams(json_schema='{not json')), 'not valid JSON'),
    (pb.GenerateRequest(text='hi', sampling=pb.SamplingParams(regex='(unclosed')), 'structured'),
    (pb.GenerateRequest(messages=pb.ChatMessages(messages=[pb.ChatMessage(role='wizard', content='hi')])), 'role'),
])
def test_bad_arguments_are_invalid_argument(server, req, words):
    with pytest.raises(grpc.RpcError) as e: list(stub_for(server).Generate(req, timeout=30))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in e.value.details(), e.value.details()


def test_structured_output_over_grpc(server):
    schema = {'type': 'object', 'properties': {'name': {'type': 'string'}, 'age': {'type': 'integer'}}, 'required': ['name', 'age']}
    msgs = stub_for(server).Generate(pb.GenerateRequest(text='A person as JSON:', sampling=pb.SamplingParams(
        temperature=0.8, seed=1, max_tokens=60, json_schema=json.dumps(schema))), timeout=60)
    out = json.loads(''.join(m.text for m in msgs))
    assert isinstance(out['name'], str) and isinstance(out['age'], int)


def test_api_key_reflection_and_health_through_shutdown():
    s = Server('--no-dashboard', '--api-key', 'sekret', grpc=True)
    try:
        stub = stub_for(s)
        req = pb.GenerateRequest(text='Hello', sampling=pb.SamplingParams(max_tokens=2))
        with pytest.raises(grpc.RpcError) as e: list(stub.Generate(req, timeout=10))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert len(list(stub.Generate(req, timeout=30, metadata=[('authorization', 'Bearer sekret')]))) >= 1
        # reflection lists the services (what grpcurl reads)
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
        chan = grpc.insecure_channel(f'127.0.0.1:{s.grpc_port}')
        refl = reflection_pb2_grpc.ServerReflectionStub(chan)
        names = [x.name for r in refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services='')]), timeout=10)
                 for x in r.list_services_response.service]
        assert {'nano_serve.v1.Generator', 'grpc.health.v1.Health'} <= set(names)
        # health: SERVING, then NOT_SERVING as soon as shutdown starts
        health = health_pb2_grpc.HealthStub(chan)
        assert health.Check(health_pb2.HealthCheckRequest(service='nano_serve.v1.Generator'), timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=''), timeout=60)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        s.proc.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert s.proc.wait(30) == 0
    finally: s.stop()
