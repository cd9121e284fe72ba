"""00a_cpu_kernels: the model's layer products at 1-48 rows, oneDNN's packed kernel against `rows_linear`, on this CPU;
with `--dtype int8`, `05b`'s eager `Int8Linear` against `rows_int8` over the same int8 weights.

    python bench/cpu_rows_kernel.py [--dtype float32|int8] [--rows 1,2,4,8,12,16,24,32,48] [--rounds 2] [--out F.json]

The bundled model's shapes (SmolLM2-135M: q/k/v 960 x 576, o 576 x 576, gate/up 3072 x 576, down 576 x 1536), 30 layers
of random float32 weights each with its own memory (487 MB, more than the caches hold), so every pass streams them from
memory as a decode step does. Each round times oneDNN then the kernel at each row count (median of 7 passes over the 120
products), and the read rate of this machine (a `sum` over a tensor of the same bytes) gives the floor: the weights read
once (int8: 122 MB). The kernel's results are checked against oneDNN's (the eager layer's) first.
"""
import argparse, json, time
import torch
from nano_serve.cpu_kernels import build_cpu_kernels, block_weight, block_int8
from nano_serve.quantization import Int8Linear, cpu_flags

SHAPES = ((960, 576), (576, 576), (3072, 576), (576, 1536))   # (out, in) of one layer's four products

def median_ms(fn, n: int = 7) -> float:
    "Median wall time of `fn()` over `n` calls after one warm-up, in ms."
    fn(); ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return sorted(ts)[n // 2] * 1e3

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--rows', default='1,2,4,8,12,16,24,32,48'); ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--layers', type=int, default=30); ap.add_argument('--out'); ap.add_argument('--dtype', default='float32', choices=('float32', 'int8'))
    a = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    kernel = build_cpu_kernels()
    if a.dtype == 'int8': return int8(a, kernel)
    weights = [[torch.randn(n, k) for n, k in SHAPES] for _ in range(a.layers)]
    packed = [[torch.ops.mkldnn._reorder_linear_weight(w, 32) for w in ws] for ws in weights]
    blocked = [[block_weight(w, kernel.width) for w in ws] for ws in weights]
    nbytes = sum(w.nbytes for ws in weights for w in ws)
    x0 = {k: torch.randn(5, k) for _, k in SHAPES}
    for (n, k), p, b in zip(SHAPES, packed[0], blocked[0]):
        assert torch.allclose(kernel.rows_linear(x0[k], b, None, n), torch.ops.mkldnn._linear_pointwise(x0[k], p, None, 'none', [], ''), atol=1e-3)
    def products(rows: int, which: str):
        xs = {k: torch.randn(rows, k) for _, k in SHAPES}
        def run():
            for l in range(a.layers):
                for i, (n, k) in enumerate(SHAPES):
                    if which == 'onednn': torch.ops.mkldnn._linear_pointwise(xs[k], packed[l][i], None, 'none', [], '')
                    else: kernel.rows_linear(xs[k], blocked[l][i], None, n)
        return run
    report(a, kernel, nbytes, products, ('onednn', 'kernel'))

def int8(a, kernel):
    "The same products over int8 weights: the eager `Int8Linear` (what a step the graph does not take runs) against `rows_int8`."
    torch.manual_seed(0)
    layers = [[Int8Linear(torch.nn.Linear(k, n, bias=False)) for n, k in SHAPES] for _ in range(a.layers)]
    blocked = [[block_int8(q.qweight, kernel.width) for q in qs] for qs in layers]
    x0 = {k: torch.randn(3, k) for _, k in SHAPES}
    with torch.inference_mode():
        for q, b in zip(layers[0], blocked[0]):   # the eager layer rounds x to bfloat16 at 3 rows: within its precision
            assert torch.allclose(kernel.rows_int8(x0[q.in_features], b, q.scale, None, q.out_features), q(x0[q.in_features]), rtol=2e-2, atol=2e-2)
    def products(rows: int, which: str):
        xs = {k: torch.randn(rows, k) for _, k in SHAPES}
        def run():
            with torch.inference_mode():
                for qs, bs in zip(layers, blocked):
                    for q, b in zip(qs, bs):
                        if which == 'eager': q(xs[q.in_features])
                        else: kernel.rows_int8(xs[q.in_features], b, q.scale, None, q.out_features)
        return run
    report(a, kernel, sum(q.qweight.nbytes for qs in layers for q in qs), products, ('eager', 'kernel'), path=layers[0][0].path)

def report(a, kernel, nbytes: int, products, which: tuple, **extra):
    "Time `products(rows, w)` for each `w` in `which` at each row count, a floor (a `sum` over `nbytes`) each round; print and write the JSON."
    big = torch.ones(nbytes // 4)
    rounds = []
    for r in range(a.rounds):
        read = median_ms(lambda: big.sum())
        row = {'read_rate_gbs': nbytes / read / 1e6, 'floor_ms': read, 'rows': {}}
        for m in map(int, a.rows.split(',')):
            row['rows'][m] = {w: median_ms(products(m, w)) for w in which}
            print(r, m, {w: round(v, 1) for w, v in row['rows'][m].items()}, flush=True)
        rounds.append(row)
    flags = cpu_flags()
    out = {'cpu': {'model': next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?'),
                   'isa': [f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_tile') if f in flags], 'threads': torch.get_num_threads()},
           'dtype': a.dtype, **extra,
           'kernel': {'width': kernel.width, 'most_rows': kernel.most_rows}, 'weight_mb': nbytes / 1e6, 'layers': a.layers, 'rounds': rounds}
    print(json.dumps(out))
    if a.out: open(a.out, 'w').write(json.dumps(out, indent=1))

if __name__ == '__main__': main()
