"""Smoke test of the installed package as a user meets it: a fresh Python process loads the bundled model."""
import subprocess, sys

def test_bundled_model_generates_in_a_fresh_process():
    code = ("from nano_serve.model import load_model, generate_greedy; m, t = load_model(device='cpu'); "
            "print(repr(generate_greedy(m, t, 'What is 2+2? Answer with one digit.', 8)))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '4' in out.stdout, out.stdout
