"""Engine throughput with the dashboard open versus closed, in one run (issue 6's overhead target: under 3%).

    python bench/dashboard_overhead.py            # viewer: headless Chromium -> bench/results/dashboard-overhead.json
    python bench/dashboard_overhead.py --session  # viewer: a Bokeh client session (server-side cost only) -> ...-session.json
Starts nano_serve_server on a free port, runs `nano_serve_bench serve` (random prompts, fixed concurrency) three
times alternating closed / open (a headless Chromium showing /dashboard), and compares output tokens per second.
"""
import asyncio, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))
from conftest import Server
from nano_serve.bench import bench_serve, random_token_workload, machine

ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']


def run(server, wl):
    "Output tokens/s of one benchmark pass (in its own thread: playwright's sync API owns this thread's event loop)."
    from concurrent.futures import ThreadPoolExecutor
    coro = lambda: asyncio.run(bench_serve(f'{server.base}/v1', None, wl, max_concurrency=16, progress=False))
    with ThreadPoolExecutor(1) as ex: return ex.submit(coro).result()['output_throughput']


def with_browser(s, wl, closed, opened):
    "Alternate runs with no viewer and with headless Chromium rendering /dashboard (on the same cores)."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path='/usr/bin/chromium', args=ARGS)
        for _ in range(3):
            closed.append(run(s, wl))
            page = browser.new_page(viewport={'width': 1400, 'height': 1500}); page.goto(f'{s.base}/dashboard'); time.sleep(2)
            opened.append(run(s, wl))
            page.close()
        browser.close()

def with_session(s, wl, closed, opened):
    "Alternate runs with no viewer and with a Bokeh client session open: the server-side cost, no rendering."
    from bokeh.client import pull_session
    for _ in range(3):
        closed.append(run(s, wl))
        session = pull_session(url=f'{s.base}/dashboard'); time.sleep(2)
        opened.append(run(s, wl))
        session.close()


if __name__ == '__main__':
    viewer = 'session' if '--session' in sys.argv else 'browser'
    s = Server('--max-num-seqs', '16')
    wl = random_token_workload(48, 64, 48, 0.0, seed=0, vocab_size=40000)
    closed, opened = [], []
    try:
        run(s, wl[:8])  # warm-up
        (with_session if viewer == 'session' else with_browser)(s, wl, closed, opened)
    finally: s.stop()
    c, o = sorted(closed)[1], sorted(opened)[1]
    res = {'machine': machine(), 'output_tok_s_closed': closed, 'output_tok_s_open': opened, 'median_closed': c, 'median_open': o,
           'overhead_perc': 100 * (c - o) / c, 'viewer': viewer, 'workload': '48 random prompts, 64 in / 48 out, concurrency 16, bundled model on CPU'}
    print(json.dumps(res, indent=1))
    name = 'dashboard-overhead.json' if viewer == 'browser' else 'dashboard-overhead-session.json'
    Path(__file__).parent.joinpath('results', name).write_text(json.dumps(res, indent=1) + '\n')
