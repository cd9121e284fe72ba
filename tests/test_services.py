"""Several service processes in front of one engine core (`--api-server-count`): one port, one core, faults on purpose."""
import contextlib, json, os, signal, socket, time

import psutil, pytest
from conftest import Server
from test_faults import MODEL, gone, wait_gone, read_to_end


def stream(port: int, prompt: str, max_tokens: int) -> tuple[socket.socket, bytes]:
    "A raw greedy streaming completion on a new connection, and its first event."
    s = socket.create_connection(('127.0.0.1', port))
    body = json.dumps({'model': MODEL, 'prompt': prompt, 'max_tokens': max_tokens, 'temperature': 0, 'ignore_eos': True, 'stream': True}).encode()
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    got = b''
    while b'data:' not in got: got += s.recv(65536)
    return s, got


def text_of(raw: bytes) -> str:
    "The text of a streamed completion's events."
    out = ''
    for line in raw.split(b'\n'):
        if line.startswith(b'data: {'): out += json.loads(line[6:])['choices'][0]['text']
    return out


def services_of(srv: Server, timeout: float = 60) -> dict[int, int]:
    "Service index -> pid, from /health on fresh connections until every process has answered."
    seen, t0 = {}, time.time()
    while time.time() - t0 < timeout:
        status, body = srv.health()
        if status == 200: seen[body['service_index']] = body['service_pid']
        if len(seen) == 2: return seen
    raise TimeoutError(f'only {seen} answered')


def connections(pid: int, port: int) -> int:
    "Established connections this process holds on the server's port."
    return sum(c.status == 'ESTABLISHED' and c.laddr.port == port for c in psutil.Process(pid).net_connections('tcp'))


def spread_streams(srv: Server, pids, n: int = 8, max_tokens: int = 400) -> list[tuple[socket.socket, bytes]]:
    "Open streams on new connections until every service process holds at least one (the kernel deals them out)."
    socks = []
    while len(socks) < n or not all(connections(p, srv.port) for p in pids):
        socks.append(stream(srv.port, 'Tell me a long story.', max_tokens))
        assert len(socks) < 40, 'the kernel gave every connection to one process'
    return socks


@contextlib.contextmanager
def two_services(*args):
    "A server with two service processes: (server, service index -> pid, core pid); stopped afterwards."
    srv = Server('--no-dashboard', '--api-server-count', '2', *args)
    try: yield srv, services_of(srv), srv.health()[1]['engine_core_pid']
    finally: srv.stop()


def test_two_service_processes_one_core():
    with two_services('--max-num-seqs', '32') as (srv, pids, core):
        assert pids[0] == srv.proc.pid and len(set(pids.values()) | {core}) == 3
        # the same greedy stream from both processes: the same text (and each process got only its own requests' tokens)
        socks = spread_streams(srv, pids.values(), max_tokens=24)
        texts = [text_of(first + read_to_end(s, timeout=60)) for s, first in socks]
        assert len(set(texts)) == 1 and len(texts[0]) > 20, texts
        for s, _ in socks: s.close()
        # the official client, on fresh connections: plain and chat
        c = srv.client()
        assert c.completions.create(model=MODEL, prompt='Tell me a long story.', max_tokens=24, temperature=0, extra_body={'ignore_eos': True}).choices[0].text == texts[0]
        chat = [srv.client().chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': 'Name a planet.'}], max_tokens=8, temperature=0)
                .choices[0].message.content for _ in range(6)]
        assert len(set(chat)) == 1
        # clients that leave mid-stream, on both processes: every block comes back
        socks = spread_streams(srv, pids.values())
        for s, _ in socks: s.close()
        assert srv.wait_idle()['nano_serve:kv_cache_usage_perc'] == 0
        # SIGTERM: every process exits, the other service first, then the core
        srv.proc.terminate()
        assert srv.proc.wait(20) == 0
        assert wait_gone(pids[1]) and wait_gone(core)


@pytest.mark.slow
def test_core_killed_fails_streams_on_every_service_process():
    with two_services() as (srv, pids, core):
        socks = spread_streams(srv, pids.values(), n=4, max_tokens=2000)
        t0 = time.time()
        os.kill(core, signal.SIGKILL)
        tails = [read_to_end(s, timeout=2.0) for s, _ in socks]        # a hang raises socket.timeout here
        assert time.time() - t0 < 2.5
        assert all(b'"error"' in t and b'engine unavailable' in t for t in tails), tails[0][-300:]
        assert srv.proc.wait(15) == 1 and wait_gone(pids[1])


@pytest.mark.slow
def test_a_dead_service_process_stops_the_server():
    with two_services() as (srv, pids, core):
        os.kill(pids[1], signal.SIGKILL)
        assert srv.proc.wait(15) == 1          # a port that fails one connection in two is worse than a restart
        assert wait_gone(core)
