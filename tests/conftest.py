"""Fixtures that start a real nano_serve_server in a subprocess on a free loopback port."""
import os, subprocess, sys, time
import pytest
from nano_serve.server import free_port, wait_ready


class Server:
    "A running server process and its addresses."
    def __init__(self, *args, env=None, launcher=('-m', 'nano_serve.server'), grpc=False, log=None):
        self.port, self.grpc_port = free_port(), free_port() if grpc else None
        self.base = f'http://127.0.0.1:{self.port}'
        extra = ['--grpc-port', str(self.grpc_port)] if grpc else []
        if '--cpu-compile' not in args: extra += ['--cpu-compile', 'off']   # a start in seconds; test_server checks the default 'auto'
        out = open(log, 'w') if log else None   # the server's log, for a test that reads it
        self.proc = subprocess.Popen([sys.executable, *launcher, '--port', str(self.port), '--log-level', 'warning', *extra, *args],
                                     env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT if out else None)
        if out: out.close()   # the server holds its own copy
        wait_ready(self.base, self.proc, timeout=600)   # a compiling server (test_server) takes minutes on a cold cache

    def health(self) -> tuple[int, dict]:
        "GET /health: (status, body)."
        import json, urllib.request, urllib.error
        try:
            with urllib.request.urlopen(f'{self.base}/health', timeout=5) as r: return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e: return e.code, json.loads(e.read())

    def client(self, api_key='none', **kw):
        from openai import OpenAI
        return OpenAI(base_url=f'{self.base}/v1', api_key=api_key, max_retries=0, **kw)

    def metrics(self) -> dict:
        "The /metrics samples as {name: value} (labels dropped)."
        import urllib.request
        text = urllib.request.urlopen(f'{self.base}/metrics', timeout=10).read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith('#'):
                name, value = line.rsplit(' ', 1)
                out[name.split('{')[0]] = float(value)
        return out

    def wait_idle(self, timeout=30):
        "Wait until no request runs or waits; return the metrics."
        t0 = time.time()
        while time.time() - t0 < timeout:
            m = self.metrics()
            if m['nano_serve:num_requests_running'] == 0 and m['nano_serve:num_requests_waiting'] == 0: return m
            time.sleep(0.2)
        raise TimeoutError(f'server not idle: {m}')

    def stop(self):
        self.proc.terminate()
        try: self.proc.wait(15)
        except subprocess.TimeoutExpired: self.proc.kill()


@pytest.fixture(scope='session')
def server():
    s = Server('--no-dashboard', '--max-num-seqs', '64', grpc=True)
    yield s
    s.stop()


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: a long soak run; `make test` leaves it out, `make test-all` (CI) runs it')
