"""Issue 13: a few decode rows' products on the CPU, three ways, over the bundled model's 120 layer matrices (weights from memory).

    python bench/cpu_few_rows.py [--rows 2 4 8 16]

For each row count: oneDNN's product over packed weights (the engine's), and two reductions inductor compiles:
`(W[:, None, :] * x[None]).sum(-1).t()` (the weight's rows outer, each read once for all rows) and
`(W * x[:, None, :]).sum(-1)` (row by row, the weights read once a row). Medians of 5 passes over 30 layers' q/k/v,
o, gate/up and down matrices (425 MB in float32, more than the caches hold). Prints ms a pass and the largest
difference from oneDNN. 00_model tells why the fast one alone was not fast inside a layer's graph.
"""
import argparse, time, torch

SHAPES = [(960, 576), (576, 576), (3072, 576), (576, 1536)]   # (out, in): q/k/v, o, gate/up, down

def median_ms(f, *a) -> float:
    "Median of 5 timed calls after 2 warm ones."
    f(*a); f(*a); ts = []
    for _ in range(5):
        t = time.perf_counter(); f(*a); ts.append(time.perf_counter() - t)
    return sorted(ts)[2] * 1e3

def main(rows: list[int], layers: int = 30):
    torch.manual_seed(0)
    ws = [torch.randn(n, k) for _ in range(layers) for n, k in SHAPES]
    packed = [torch.ops.mkldnn._reorder_linear_weight(w, 32) for w in ws]
    for w in ws: torch._dynamo.mark_static(w)
    forms = {'weight rows outer': lambda x, w: (w[:, None, :] * x[None]).sum(-1).t(),
             'row by row': lambda x, w: (w * x[:, None, :]).sum(-1)}
    def run(form, xs): return [form(xs[w.shape[1]], w) for w in ws]
    compiled = {name: torch.compile(lambda xs, f=f: run(f, xs), dynamic=True) for name, f in forms.items()}
    def onednn(xs): return [torch.ops.mkldnn._linear_pointwise(xs[w.shape[1]], p, None, 'none', [], '') for w, p in zip(ws, packed)]
    with torch.inference_mode():
        for m in rows:
            xs = {576: torch.randn(m, 576), 1536: torch.randn(m, 1536)}
            ref, out = onednn(xs), {'oneDNN packed': round(median_ms(onednn, xs), 1)}
            for name, f in compiled.items():
                err = max((a - b).abs().max().item() for a, b in zip(f(xs), ref))
                out[name] = (round(median_ms(f, xs), 1), f'{err:.1e}')
            print(m, 'rows:', out, flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rows', type=int, nargs='+', default=[2, 4, 8, 16])
    main(p.parse_args().rows)
