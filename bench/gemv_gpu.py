"""Batch-1 decode is a chain of matrix-vector products: which way of computing them is fastest on this GPU?

    python bench/gemv_gpu.py [--model qwen3-0.6b] [--tp N] [--out DIR]

For each weight matrix of one layer of `--model` (fused qkv, o, fused gate/up, down) and the output head, one row of
bfloat16 activations times the bfloat16 weights, three ways, each timed as 200 calls captured in one CUDA graph (as
the engine replays them; launch costs inside a graph are what a decode step pays):
  cublas: `F.linear` (cuBLAS picks its kernel: at one row, nvjet tiles, sometimes split-K plus a reduce kernel);
  mv:     `torch.mv` (cuBLAS's matrix-vector routine);
  triton: 05c's `weight_only_mm` over bfloat16 weights with unit scales, over a sweep of tile sizes and warps.
`--tp N`: the shapes one rank of N holds under tensor parallelism (11_parallel), also timed with the tiles the engine
picks today (`gemv_tiles`), and the sweep adds two K slices.
Weights are distinct copies per call (200 x the matrix would not fit in L2 either way; 8 copies rotated), so every
call reads its matrix from HBM, as in a real step.
"""
import argparse, itertools, json, os, sys
from pathlib import Path
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.model import load_config, resolve_model_source
from nano_serve.quant_kernels import weight_only_mm, gemv_tiles
from nano_serve.runner import capture_graph


def graph_us(fn, calls=200) -> float:
    "Mean microseconds of `fn()` over `calls` calls captured in one CUDA graph (captured as the runner captures its steps)."
    g, _, _ = capture_graph(lambda: [fn() for _ in range(calls)])
    g.replay(); torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    for _ in range(5): g.replay()
    e1.record(); torch.cuda.synchronize()
    return e0.elapsed_time(e1) * 1e3 / 5 / calls


def main():
    p = argparse.ArgumentParser(); p.add_argument('--model', default='qwen3-0.6b'); p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out'))
    p.add_argument('--tp', type=int, default=1)
    a = p.parse_args()
    cfg = load_config(*resolve_model_source(a.model, 'dummy'))
    h, d = cfg.hidden_size, getattr(cfg, 'head_dim', None) or cfg.hidden_size // cfg.num_attention_heads
    q, kv, i = cfg.num_attention_heads * d, cfg.num_key_value_heads * d, cfg.intermediate_size
    tp = a.tp
    shapes = {'qkv': ((q + 2 * kv) // tp, h), 'o': (h, q // tp), 'gate_up': (2 * i // tp, h), 'down': (h, i // tp), 'head': (cfg.vocab_size // tp, h)}
    dev, res = 'cuda', {'gpu': torch.cuda.get_device_name(0), 'model': a.model, 'tp': tp, 'shapes': shapes, 'us': {}}
    for name, (n, k) in shapes.items():
        copies = 2 if name == 'head' else 8
        ws = [torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k ** 0.5 for _ in range(copies)]
        x, ones = torch.randn(1, k, device=dev, dtype=torch.bfloat16), torch.ones(n, device=dev)
        it = itertools.count()
        nxt = lambda: ws[next(it) % copies]
        r = {'cublas': graph_us(lambda: F.linear(x, nxt())), 'mv': graph_us(lambda: torch.mv(nxt(), x[0]))}
        ref = F.linear(x, ws[0]).float()
        if a.tp > 1: r['current'] = graph_us(lambda: weight_only_mm(x, nxt(), ones, gemv_tiles(k, n)), calls=100)
        best = (None, float('inf'))
        grid = itertools.product((16, 32, 64), (128, 256, 512), (2, 4, 8), (3, 4), (1,)) if a.tp == 1 else \
            itertools.product((16, 32), (256, 512), (2, 4), (3, 4), (1, 2))
        for bn, bk, warps, stages, split in grid:
            if name == 'head' and a.tp > 1: break    # the head stays with cuBLAS
            if split > 1 and k % (split * bk): continue
            t = dict(BLOCK_M=16, BLOCK_N=bn, BLOCK_K=bk, num_warps=warps, num_stages=stages, SPLIT_K=split)
            try:
                err = ((weight_only_mm(x, ws[0], ones, t).float() - ref).abs().max() / ref.abs().max()).item()
                us = graph_us(lambda: weight_only_mm(x, nxt(), ones, t), calls=100)
            except Exception: continue
            if err < 2e-2 and us < best[1]: best = (t, us)
        r['triton'], r['triton_tiles'] = best[1], best[0]
        r['GB'] = n * k * 2 / 1e9
        r['TB_s'] = {m: r['GB'] / (r[m] * 1e-6) / 1e3 for m in ('cublas', 'mv', 'triton', 'current') if m in r and r[m] != float('inf')}
        res['us'][name] = r
        print(name, json.dumps(r), flush=True)
    layer = {m: sum(res['us'][s][m] for s in ('qkv', 'o', 'gate_up', 'down')) for m in ('cublas', 'mv', 'triton') + (('current',) if a.tp > 1 else ())}
    best_each = sum(min(res['us'][s][m] for m in ('cublas', 'mv', 'triton')) for s in ('qkv', 'o', 'gate_up', 'down'))
    res['per_layer_us'] = {**layer, 'best_each': best_each}
    res['per_step_saving_ms'] = (layer['cublas'] - best_each) * cfg.num_hidden_layers / 1e3
    print('per layer', json.dumps(res['per_layer_us']), 'saving per step ms', round(res['per_step_saving_ms'], 3))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / f'gemv-{a.model}-tp{a.tp}.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
