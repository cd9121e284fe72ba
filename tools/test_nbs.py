"""Run the notebooks as tests, a few at a time, and print how long each took.

Each notebook runs as nbdev's `test_nb` runs it (cells flagged with a `tst_flags` name from settings.ini are skipped
unless passed with `--flags`); with `--out`, the executed notebook is kept with its outputs for the book. Notebooks start longest first, by the times the last run left in `.nbtimes.json`, so the
two slowest do not end up running one after the other at the end; a fresh clone (CI) orders them by the times
committed in `tools/nbtimes.json` (this 2-core machine's, refreshed by hand now and then).
"""
import argparse, json, multiprocessing, re, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

TIMES, COMMITTED = Path('.nbtimes.json'), Path('tools/nbtimes.json')


def run_one(fn: str, skip: list[str], force: list[str], out: str | None = None) -> tuple[str, bool, float, list]:
    "Run one notebook as nbdev's `test_nb` does, keeping its outputs in `out/` if given; (name, passed, seconds, cell times)."
    import os, sys
    from execnb.nbio import write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    t0, fn = time.time(), Path(fn)
    sys.path.insert(0, str(Path.cwd())); os.environ['IN_TEST'] = '1'
    flags = set(skip) - set(force)
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
        d = getattr(cell, 'directives_', {}) or {}
        return d.get('eval:', [''])[0].lower() == 'false' or bool(flags & d.keys())
    shell, ok, cells = CaptureShell(fn), True, []
    def start(cell):
        "Skip the cell as `test_nb` would, or note when it starts."
        skipped = no_eval(cell)
        if not skipped: cells.append([cell.idx_, time.time(), cell.source.splitlines()[0][:60] if cell.source else ''])
        return skipped
    def stop(cell): cells[-1][1] = time.time() - cells[-1][1]
    try:
        with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=start, postproc=stop)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=fn) + '\n'); ok = False
    if out and ok:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_nb(nb, Path(out) / fn.name)
    return str(fn), ok, time.time() - t0, cells


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--flags', default='', help='space-separated test flags to run anyway (e.g. "slow")')
    ap.add_argument('--n_workers', type=int, default=2)
    ap.add_argument('--file_re', default='', help='only notebooks whose name matches this regular expression')
    ap.add_argument('--cells', type=int, default=0, help='also list the N slowest cells of all the notebooks run')
    ap.add_argument('--out', default=None, help='keep each executed notebook, with its outputs, in this folder (tools/book.py renders them)')
    a = ap.parse_args()
    from nbdev.config import get_config
    cfg = get_config()
    skip, force = cfg.tst_flags.split(), a.flags.split()
    files = sorted(str(p.absolute()) for p in Path(cfg.nbs_path).glob('*.ipynb') if not p.name.startswith(('_', '.')) and re.search(a.file_re, p.name))
    last = json.loads((TIMES if TIMES.exists() else COMMITTED).read_text()) if TIMES.exists() or COMMITTED.exists() else {}
    files.sort(key=lambda f: -last.get(Path(f).name, 0))
    t0, results, slow_cells = time.time(), [], []
    # a fresh process per notebook: IPython takes over `__main__` in a worker, and memory goes back between notebooks
    with ProcessPoolExecutor(a.n_workers, mp_context=multiprocessing.get_context('spawn'), max_tasks_per_child=1) as pool:
        futures = []
        for f in files: futures.append(pool.submit(run_one, f, skip, force, a.out)); time.sleep(0.05)
        for fut in as_completed(futures):
            fn, ok, secs, cells = fut.result()
            results.append((Path(fn).name, ok, secs))
            slow_cells += [(s, Path(fn).name, i, src) for i, s, src in cells]
            print(f"{'ok  ' if ok else 'FAIL'} {Path(fn).name} ({secs:.0f} s)", flush=True)
    wall = time.time() - t0
    print('\n| notebook | seconds |\n|---|---|')
    for name, ok, secs in sorted(results, key=lambda r: -r[2]): print(f"| {name}{'' if ok else ' (FAILED)'} | {secs:.0f} |")
    print(f'| all, {a.n_workers} at a time | {wall:.0f} wall ({sum(r[2] for r in results):.0f} summed) |')
    if a.cells:
        print('\n| cell | seconds | first line |\n|---|---|---|')
        for s, name, i, src in sorted(slow_cells, reverse=True)[:a.cells]: print(f'| {name} #{i} | {s:.1f} | `{src}` |')
    TIMES.write_text(json.dumps({**last, **{n: round(s, 1) for n, _, s in results}}, indent=1))
    failed = [n for n, ok, _ in results if not ok]
    if failed: sys.exit(f'notebooks failed: {", ".join(failed)}')


if __name__ == '__main__': main()
