"""The book (tools/book.py: every notebook executed, with its outputs, as HTML) opened in headless Chromium: every
notebook has its page, every Bokeh figure of the run is drawn, no picture is broken, no page logs an error."""
import json, os
from pathlib import Path
import pytest
from test_dashboard import CHROMIUM, ARGS

BOOK = os.environ.get('NANO_SERVE_BOOK')   # set by `make test`, which builds the book first
pytestmark = pytest.mark.skipif(not BOOK, reason='the book is built by make test (NANO_SERVE_BOOK=_site)')
ROOT = Path(__file__).resolve().parent.parent


def bokeh_outputs(nb_path: Path) -> int:
    "How many Bokeh figures the executed notebook shows (outputs that BokehJS must render)."
    nb = json.loads(nb_path.read_text())
    return sum('application/vnd.bokehjs_exec.v0+json' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))


def test_every_notebook_has_a_page_with_its_figures():
    site = Path(BOOK).resolve()
    stems = sorted(p.stem for p in (ROOT / 'nbs').glob('*.ipynb'))
    assert sorted(p.stem for p in site.glob('*.html')) == stems, 'a notebook without its page, or a page without its notebook'
    playwright = pytest.importorskip('playwright.sync_api')
    if not Path(CHROMIUM).exists(): pytest.skip('Debian chromium not installed')
    shots = Path(os.environ.get('NANO_SERVE_SCREENSHOTS', site))
    drawn = {}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={'width': 1300, 'height': 1000})
        errors = []
        page.on('pageerror', lambda e: errors.append(f'{page.url}: {e}'))
        page.on('console', lambda m: errors.append(f'{page.url}: {m.text}') if m.type == 'error' else None)
        for stem in stems:
            want = bokeh_outputs(site / 'nbs' / f'{stem}.ipynb')
            page.goto((site / f'{stem}.html').as_uri())
            if want:
                page.wait_for_function(f"() => window.Bokeh && Object.keys(Bokeh.index).length >= {want}", timeout=30000)
            drawn[stem] = (want, page.evaluate("() => window.Bokeh ? Object.keys(Bokeh.index).length : 0"))
            broken = page.evaluate("() => [...document.images].filter(i => !i.complete || i.naturalWidth == 0).map(i => i.src.slice(0, 80))")
            assert not broken, (stem, broken)
            assert 'Traceback (most recent call last)' not in page.content(), stem
            if stem == 'index': page.screenshot(path=str(shots / 'book-index.png'))
            if stem == '04_preemption':            # at its timeline: the table, then the figure drawn from it
                page.get_by_text('And as a picture', exact=False).first.evaluate('e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 60)')
                page.wait_for_timeout(500)
                page.screenshot(path=str(shots / 'book-04_preemption.png'))
        browser.close()
    assert not errors, errors[:5]
    assert all(got >= want for want, got in drawn.values()), drawn
    assert {s for s, (want, _) in drawn.items() if want} >= {'04_preemption', '09_dashboard', '12_lab'}, drawn   # the notebooks that draw kept their figures
