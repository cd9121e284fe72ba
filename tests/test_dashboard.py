"""The dashboard in a real browser (Debian's headless Chromium driven by playwright), and /metrics under load."""
import os, threading, time
from pathlib import Path
import pytest
from conftest import Server

MODEL = 'SmolLM2-135M-Instruct'
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']


def load(server, n=12, max_tokens=40):
    "Send `n` concurrent completions; return their usage objects."
    out = [None] * n
    def one(i):
        out[i] = server.client().completions.create(model=MODEL, prompt=f'Story {i}: once upon a time', max_tokens=max_tokens,
                                                    temperature=0.8, seed=i).usage
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts: t.start()
    return ts, out


@pytest.fixture(scope='module')
def dash_server():
    s = Server('--max-num-seqs', '16')
    yield s
    s.stop()


def test_metrics_move_consistently(dash_server):
    s = dash_server
    before = s.wait_idle()
    ts, usages = load(s)
    seen_running = 0
    while any(t.is_alive() for t in ts):
        seen_running = max(seen_running, s.metrics()['nano_serve:num_requests_running']); time.sleep(0.05)
    after = s.wait_idle()
    assert seen_running > 1
    assert after['nano_serve:generation_tokens_total'] - before['nano_serve:generation_tokens_total'] == sum(u.completion_tokens for u in usages)
    assert after['nano_serve:prompt_tokens_total'] - before['nano_serve:prompt_tokens_total'] == sum(u.prompt_tokens for u in usages)
    assert after['nano_serve:time_to_first_token_seconds_count'] - before.get('nano_serve:time_to_first_token_seconds_count', 0) == len(usages)
    assert after['nano_serve:kv_cache_usage_perc'] == 0 and after['nano_serve:num_requests_running'] == 0


def test_dashboard_renders_and_updates(dash_server, tmp_path):
    playwright = pytest.importorskip('playwright.sync_api')
    if not Path(CHROMIUM).exists(): pytest.skip('Debian chromium not installed')
    s, shots = dash_server, Path(os.environ.get('NANO_SERVE_SCREENSHOTS', tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={'width': 1400, 'height': 1500})
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
        page.goto(f'{s.base}/dashboard')
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].get_model_by_name('timeseries')", timeout=30000)
        rows = lambda: page.evaluate("() => Bokeh.documents[0].get_model_by_name('timeseries').data.t.length")
        page.wait_for_function("() => document.querySelectorAll('canvas').length >= 8 || document.querySelector('.bk-Column')", timeout=30000)
        ts, _ = load(s, n=16, max_tokens=64)
        time.sleep(3)
        n1 = rows()
        page.screenshot(path=str(shots / 'dashboard-1.png'), full_page=True)
        time.sleep(3)
        n2 = rows()
        running = page.evaluate("() => Bokeh.documents[0].get_model_by_name('timeseries').data.running.reduce((a, b) => Math.max(a, b), 0)")
        states = page.evaluate("() => Bokeh.documents[0].get_model_by_name('timeline').data.state")      # the per-request Gantt chart
        requests = page.evaluate("() => new Set(Bokeh.documents[0].get_model_by_name('timeline').data.request).size")
        page.screenshot(path=str(shots / 'dashboard.png'), full_page=True)
        for t in ts: t.join()
        browser.close()
    assert not errors, errors
    assert n2 > n1 >= 2, (n1, n2)          # the plots keep receiving rows while requests run
    assert running > 0
    assert {'prefill', 'decode'} <= set(states) and requests >= 16, (set(states), requests)   # every one of the 16 requests has its row
    assert (shots / 'dashboard.png').stat().st_size > 20000
