"""Quantization through the server: a method this machine cannot run stops start-up with its reason (int8 itself: 05b)."""
import subprocess, sys, time

from nano_serve.server import free_port


def test_unsupported_method_stops_startup_with_its_reason():
    for method, reason in (('fp8', 'FP8 arithmetic'),):   # (int4 takes the same path, with its own message: 05b)
        t0 = time.time()
        p = subprocess.run([sys.executable, '-m', 'nano_serve.server', '--port', str(free_port()), '--quantization', method,
                            '--no-dashboard'], capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and reason in p.stderr, (method, p.returncode, p.stderr[-2000:])
        assert time.time() - t0 < 60
    p = subprocess.run([sys.executable, '-m', 'nano_serve.server', '--quantization', 'int3'], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and 'invalid choice' in p.stderr
