"""Render the executed notebooks (with their outputs) into a static site: the book.

    python tools/book.py [--nbs _site/nbs] [--out _site]

`make test` runs every notebook and keeps the executed copies in `_site/nbs` (tools/test_nbs.py --out); this turns
them into one HTML page each (nbconvert's lab template: code, prose, tables, Bokeh figures with BokehJS inlined, so
the pages work offline) and an index page, the tour, in the order a request meets the layers. Every page has a bar
with the contents, the previous and the next page. Open `_site/index.html` in a browser.

(nbdev's own way is `nbdev_docs`, through Quarto; the `quarto-cli` package only downloads Quarto's binary from
GitHub when it is installed, which machines limited to a package registry cannot do. nbconvert is already here.)
"""
import argparse, functools, html, json, re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# the order of the README's "A request's life": the layers as a request meets them, then the rest
ORDER = ['index', '08_server', '08a_service', '08b_grpc', '06c_frontend', '07_core', '03_scheduler', '02_allocator', '06b_runner', '01_cache',
         '00_model', '00a_cpu_kernels', '05_kernels', '11_parallel', '05b_quantization', '05c_quant_kernels', '06a_sampler', '06f_structured', '08c_tools', '06g_speculative', '04_preemption',
         '06_engine', '06d_metrics', '06e_workers', '09_dashboard', '10_bench', '12_lab', '13_simulator', '13a_experiments']

STYLE = ('<style>.book-nav{position:sticky;top:0;z-index:10;background:#f6f8fa;border-bottom:1px solid #ddd;padding:6px 12px;'
         'font:14px sans-serif;display:flex;gap:18px}.book-nav a{text-decoration:none}</style>')


def for_reading(nb: dict) -> dict:
    "The notebook as a reader sees it: the title back from nbdev's front matter, `#| hide` cells gone, `#|` directive lines dropped."
    cells = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            meta = dict(l.split(':', 1) for l in src.splitlines()[1:-1] if ':' in l)
            title, desc = (meta.get(k, '').strip().strip('\'"') for k in ('title', 'description'))
            c = {'cell_type': 'markdown', 'metadata': {}, 'source': f'# {title}' + (f'\n\n> {desc}' if desc else '')}
        elif c['cell_type'] == 'code':
            if re.search(r'^#\|\s*hide\s*$', src, re.M): continue
            c = {**c, 'source': ''.join(l for l in src.splitlines(keepends=True) if not l.startswith('#|')).lstrip('\n')}
            if not c['source'].strip() and not c.get('outputs'): continue
        cells.append({**c, 'id': c.get('id') or f'cell{len(cells)}'})
    return {**nb, 'cells': cells}

def title_of(nb: dict, stem: str) -> str:
    "The notebook's first markdown heading, or its file name."
    for c in nb['cells']:
        if c['cell_type'] == 'markdown':
            m = re.search(r'^#\s+(.+)$', ''.join(c['source']), re.M)
            if m: return m.group(1).strip()
    return stem


def nav(pages: list[tuple[str, str]], i: int) -> str:
    "The bar on page `i`: contents, previous, next."
    link = lambda j, label: f'<a href="{pages[j][0]}.html">{label}</a>' if 0 <= j < len(pages) else '<span></span>'
    return (f'<div class="book-nav"><a href="index.html"><b>nano-serve</b></a>{link(i - 1, "&larr; " + html.escape(pages[i - 1][1]) if i > 0 else "")}'
            f'{link(i + 1, html.escape(pages[i + 1][1]) + " &rarr;" if i + 1 < len(pages) else "")}</div>')


def contents(pages: list[tuple[str, str]]) -> str:
    "The table of contents for the index page."
    items = ''.join(f'<li><a href="{stem}.html">{html.escape(title)}</a> <code>{stem}</code></li>' for stem, title in pages[1:])
    return f'<div style="font:15px sans-serif;margin:12px 24px"><h2>Contents, in the order a request meets them</h2><ol>{items}</ol></div>'


@functools.lru_cache
def exporter():
    "nbconvert's HTML exporter, one per process: the README's pictures inside the page, nothing fetched from a CDN (no MathJax or RequireJS: the pages need neither), so it reads offline."
    from nbconvert import HTMLExporter
    return HTMLExporter(template_name='lab', embed_images=True, mathjax_url='', require_js_url='',
                        exclude_input_prompt=True, exclude_output_prompt=True)


def render(nb: dict, pages: list[tuple[str, str]], i: int, out: Path):
    "Page `i` of the book, from its notebook as a reader sees it, written to `out`."
    import nbformat
    stem, title = pages[i]
    body, _ = exporter().from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4), resources={'metadata': {'path': '.'}})
    body = re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + STYLE + nav(pages, i) + (contents(pages) if stem == 'index' else ''), body, count=1)
    body = re.sub(r'href="(?:nbs/)?(\d\d[a-z]?_\w+|index)\.ipynb"', r'href="\1.html"', body)   # links between notebooks
    body = re.sub(r'<script src="">\s*</script>', '', body)                # the emptied CDN scripts
    body = body.replace('<title></title>', f'<title>{html.escape(title)} · nano-serve</title>', 1)
    (out / f'{stem}.html').write_text(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--nbs', default='_site/nbs'); ap.add_argument('--out', default='_site')
    a = ap.parse_args()
    src, out = Path(a.nbs), Path(a.out)
    found = {p.stem: p for p in src.glob('*.ipynb')}
    if not found: raise SystemExit(f'no executed notebooks in {src}: run `make docs` (or `make test`) first')
    stems = [s for s in ORDER if s in found] + sorted(set(found) - set(ORDER))
    nbs = {s: for_reading(json.loads(found[s].read_text())) for s in stems}
    pages = [(s, title_of(nbs[s], s)) for s in stems]
    with ProcessPoolExecutor(2) as pool:   # two cores: two pages at a time (one at a time took 44 s here)
        list(pool.map(render, [nbs[s] for s in stems], [pages] * len(pages), range(len(pages)), [out] * len(pages)))
    print(f'{len(pages)} pages in {out}/ ; open {out / "index.html"}')


if __name__ == '__main__': main()
