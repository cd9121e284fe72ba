"""Faults on purpose: the engine core killed, the server stopped or killed, a 20 MB prompt, one request's processing failing."""
import json, os, signal, socket, threading, time, urllib.request

import psutil, pytest
from openai import APIError, InternalServerError
from conftest import Server

MODEL = 'SmolLM2-135M-Instruct'


def gone(pid: int) -> bool:
    "The process no longer exists (or is a zombie nobody has reaped yet)."
    try: return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess: return True


def wait_gone(pid: int, timeout: float = 10) -> bool:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if gone(pid): return True
        time.sleep(0.1)
    return False


def open_stream(port: int, prompt: str, max_tokens: int = 2000) -> socket.socket:
    "A raw streaming completion request, its first events already read."
    s = socket.create_connection(('127.0.0.1', port))
    body = json.dumps({'model': MODEL, 'prompt': prompt, 'max_tokens': max_tokens, 'ignore_eos': True, 'stream': True}).encode()
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    got = b''
    while got.count(b'data:') < 3: got += s.recv(65536)
    return s


def read_to_end(s: socket.socket, timeout: float) -> bytes:
    "Everything the server still sends, until it closes the connection or ends the chunked body."
    s.settimeout(timeout)
    got = b''
    while not got.endswith(b'0\r\n\r\n'):
        chunk = s.recv(65536)
        if not chunk: break
        got += chunk
    return got


@pytest.mark.slow
def test_core_killed_fails_open_streams_then_server_exits_nonzero():
    srv = Server('--no-dashboard')
    try:
        status, body = srv.health()
        core = body['engine_core_pid']
        assert status == 200 and core != srv.proc.pid and not gone(core)
        streams = [open_stream(srv.port, f'Story number {i}:') for i in range(3)]
        t0 = time.time()
        os.kill(core, signal.SIGKILL)
        tails = [read_to_end(s, timeout=2.0) for s in streams]        # a hang raises socket.timeout here
        assert time.time() - t0 < 2.5
        assert all(b'"error"' in t and b'engine unavailable' in t for t in tails), tails[0][-300:]
        assert srv.health()[0] == 503
        with pytest.raises(APIError):   # new work is refused, not queued forever
            srv.client().completions.create(model=MODEL, prompt='hi', max_tokens=2)
        assert srv.proc.wait(15) == 1   # it exits for its supervisor to restart
    finally:
        srv.stop()


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL])
def test_server_stopped_or_killed_leaves_no_engine_core(sig):
    srv = Server('--no-dashboard')
    try:
        core = srv.health()[1]['engine_core_pid']
        s = open_stream(srv.port, 'Tell me a long story.')
        srv.proc.send_signal(sig)
        code = srv.proc.wait(15)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        assert wait_gone(core), f'engine core {core} outlived the server ({sig.name})'
        s.close()
    finally:
        srv.stop()


def test_huge_prompt_refused_fast_while_others_stream(server):
    s = open_stream(server.port, 'Tell me a long story.', max_tokens=120)   # outlasts both refusals below
    body = json.dumps({'model': MODEL, 'prompt': 'word ' * 4_000_000, 'max_tokens': 4}).encode()   # 20 MB
    health_ms = []
    def poll_health():
        for _ in range(10):
            t = time.time(); urllib.request.urlopen(f'{server.base}/health', timeout=5).read(); health_ms.append(1e3 * (time.time() - t))
    th = threading.Thread(target=poll_health); th.start()
    t0 = time.time()
    req = urllib.request.Request(f'{server.base}/v1/completions', data=body, headers={'Content-Type': 'application/json'})
    with pytest.raises(urllib.error.HTTPError) as e: urllib.request.urlopen(req, timeout=10)
    took = time.time() - t0
    th.join()
    assert e.value.code == 413 and json.loads(e.value.read())['error']['code'] == 'body_too_large'
    assert took < 1.0, took
    assert max(health_ms) < 500, health_ms
    # under the byte cap but far over the context: refused without tokenizing
    body = json.dumps({'model': MODEL, 'prompt': 'word ' * 2_000_000, 'max_tokens': 4}).encode()
    t0 = time.time()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(f'{server.base}/v1/completions', data=body, headers={'Content-Type': 'application/json'}), timeout=10)
    assert e.value.code == 400 and 'cannot fit' in json.loads(e.value.read())['error']['message'] and time.time() - t0 < 1.0
    tail = read_to_end(s, timeout=60)                                # the open stream carried on to its end
    assert b'[DONE]' in tail and b'"error"' not in tail
    s.close()
    assert server.wait_idle()['nano_serve:kv_cache_usage_perc'] == 0


FAULTY = '''
import sys
import nano_serve.frontend as f
_apply = f.OutputProcessor._apply
def faulty(self, st, d):
    if st.prompt and 'POISON' in st.prompt: raise RuntimeError('injected detokenizer fault')
    return _apply(self, st, d)
f.OutputProcessor._apply = faulty
from nano_serve.server import main
main(sys.argv[1:])
'''


def test_fault_in_one_request_fails_that_request_only():
    srv = Server('--no-dashboard', launcher=('-c', FAULTY))
    try:
        c = srv.client()
        prompts = [f'Write one sentence about the number {i}.' for i in range(4)]
        alone = [c.completions.create(model=MODEL, prompt=p, max_tokens=12, temperature=0).choices[0].text for p in prompts]
        results = {}
        def run(key, prompt, stream):
            try:
                if stream: results[key] = ''.join(ch.choices[0].text for ch in c.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0, stream=True))
                else: results[key] = c.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0).choices[0].text
            except Exception as e: results[key] = e
        jobs = [(f'ok{i}', p, i % 2 == 0) for i, p in enumerate(prompts)] + [('bad-stream', 'POISON pill', True), ('bad', 'POISON pill', False)]
        threads = [threading.Thread(target=run, args=j) for j in jobs]
        for t in threads: t.start()
        for t in threads: t.join(60)
        assert [results[f'ok{i}'] for i in range(4)] == alone
        assert isinstance(results['bad'], InternalServerError) and 'injected detokenizer fault' in str(results['bad'])
        assert isinstance(results['bad-stream'], APIError) and 'injected detokenizer fault' in str(results['bad-stream'])
        m = srv.wait_idle()
        assert m['nano_serve:kv_cache_usage_perc'] == 0 and srv.health()[0] == 200
    finally:
        srv.stop()
