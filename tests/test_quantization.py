"""Quantization through the server: a method this machine cannot run stops start-up with its reason; int4 weights with
an FP8 KV cache serve the bundled model end to end (quality and speed: 05b)."""
import subprocess, sys, time

from nano_serve.server import free_port
from conftest import Server


def test_unsupported_method_stops_startup_with_its_reason():
    for method, reason in (('fp8', 'FP8 tensor cores'),):
        t0 = time.time()
        p = subprocess.run([sys.executable, '-m', 'nano_serve.server', '--port', str(free_port()), '--quantization', method,
                            '--no-dashboard'], capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and reason in p.stderr, (method, p.returncode, p.stderr[-2000:])
        assert time.time() - t0 < 60
    for flag, value in (('--quantization', 'int3'), ('--kv-cache-dtype', 'int8')):
        p = subprocess.run([sys.executable, '-m', 'nano_serve.server', flag, value], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and 'invalid choice' in p.stderr, (flag, p.stderr[-500:])


def test_int4_weights_and_fp8_cache_serve():
    s = Server('--no-dashboard', '--quantization', 'int4', '--kv-cache-dtype', 'fp8', '--kv-cache-gib', '0.05')
    try:
        c = s.client()
        r = c.completions.create(model='SmolLM2-135M-Instruct', prompt='The capital of France is', max_tokens=6, temperature=0)
        assert 'Paris' in r.choices[0].text, r.choices[0].text
        streams = [c.completions.create(model='SmolLM2-135M-Instruct', prompt=f'Count to {i}:', max_tokens=24, temperature=0.8, stream=True) for i in range(4)]
        texts = [''.join(ch.choices[0].text for ch in st) for st in streams]
        assert all(texts), texts
        m = s.wait_idle()
        assert m['nano_serve:kv_cache_usage_perc'] == 0, m   # every block back
    finally: s.stop()
