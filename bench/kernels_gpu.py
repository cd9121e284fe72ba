"""Check and time the Triton paged-attention kernels of `nano_serve.kernels` against `paged_attention_ref` on a GPU.

    python bench/kernels_gpu.py            # full sweep (a few minutes on an H100)
    python bench/kernels_gpu.py --quick    # a few shapes

Shapes are those of Qwen3-0.6B (16 query heads, 8 kv heads, head size 128) and Llama-3-8B (32/8/128), blocks of 16
tokens, bfloat16. Every case is first checked against the reference (relative error < 2e-2), then both are timed with
`triton.testing.do_bench` (median). The metadata is built once per case and reused, as a model reuses it across its
layers, so the per-step host work (`meta.memo`) is not in the times. Decode rows also report the bandwidth reached
(bytes of K and V read / time). Prints tables; writes $OUT/kernels.json when OUT is set.
"""
import argparse, json, os, platform, sys, time

import torch
import triton
from triton.testing import do_bench

from nano_serve.cache import AttentionMetadata, paged_attention_ref, scattered_block_tables
from nano_serve.kernels import (paged_attention_triton, paged_decode_attention,
                                default_num_splits)
from nano_serve.model import max_rel_error

MODELS = {'qwen3-0.6b': (16, 8, 128), 'llama-8b': (32, 8, 128)}
BLOCK = 16
DTYPE = torch.bfloat16
TOL = 2e-2


def make_batch(ctx_lens, q_lens, heads, kv_heads, d, seed=0):
    "Random q and K/V pool on the GPU, metadata for requests with `ctx_lens` tokens of which the last `q_lens` are new."
    g = torch.Generator(device='cuda').manual_seed(seed)
    num_blocks = sum(-(-c // BLOCK) for c in ctx_lens) + 3
    tables = scattered_block_tables(ctx_lens, BLOCK, num_blocks, seed=seed)
    meta = AttentionMetadata.build(tables, [c - n for c, n in zip(ctx_lens, q_lens)], ctx_lens, BLOCK, 'cuda')
    rnd = lambda *s: torch.randn(*s, generator=g, device='cuda', dtype=DTYPE)
    return rnd(sum(q_lens), heads, d), rnd(num_blocks, BLOCK, kv_heads, d), rnd(num_blocks, BLOCK, kv_heads, d), meta


def bench(fn) -> float:
    "Median milliseconds of `fn`."
    return do_bench(fn, warmup=25, rep=100, return_mode='median')


def compare(ours_fn, batch, ref_time=True):
    "Error of `ours_fn` against the reference, and the median times of both (ms)."
    q, k, v, meta = batch
    ref_meta = AttentionMetadata(**{**vars(meta), 'memo': {}})
    ref = paged_attention_ref(q, k, v, ref_meta)
    err = max_rel_error(ours_fn(q, k, v, meta), ref)
    t_ours = bench(lambda: ours_fn(q, k, v, meta))
    t_ref = bench(lambda: paged_attention_ref(q, k, v, ref_meta)) if ref_time else float('nan')
    del ref
    return err, t_ours, t_ref


def kv_bytes(ctx_lens, kv_heads, d) -> int:
    return 2 * sum(ctx_lens) * kv_heads * d * DTYPE.itemsize


def causal_flops(ctx_lens, q_lens, heads, d) -> int:
    "Multiply-adds x2 of QK^T and PV for new tokens attending causally to their prefix."
    pairs = sum(sum(c - n + i + 1 for i in range(n)) for c, n in zip(ctx_lens, q_lens))
    return 4 * pairs * heads * d


def decode_cases(quick):
    batches = [1, 8, 64, 256] if quick else [1, 8, 32, 64, 128, 256]
    ctxs = [128, 1024, 4096] if quick else [128, 512, 1024, 2048, 4096]
    return [(b, c) for b in batches for c in ctxs]


def prefill_cases(quick):
    "(requests, new tokens each, cached prefix each)."
    cases = [(1, 512, 0), (1, 2048, 0), (4, 1024, 0), (16, 128, 0), (1, 512, 3584), (8, 256, 1024), (1, 4096, 0)]
    return cases[:4] if quick else cases


def run_decode(rows, quick):
    print('\n## decode (one new token per request)\n')
    print(f"{'model':<12} {'batch':>5} {'ctx':>5} {'splits':>6} {'err':>8} {'triton ms':>10} {'ref ms':>9} {'speedup':>8} {'GB/s':>7}")
    for name, (h, kvh, d) in MODELS.items():
        for b, c in decode_cases(quick):
            batch = make_batch([c] * b, [1] * b, h, kvh, d)
            splits = default_num_splits(b, kvh, torch.device('cuda'))
            err, t, t_ref = compare(paged_attention_triton, batch)
            gbs = kv_bytes([c] * b, kvh, d) / (t * 1e-3) / 1e9
            ok = err < TOL
            rows.append(dict(kind='decode', model=name, batch=b, ctx=c, num_splits=splits, err=err, ok=ok,
                             triton_ms=t, ref_ms=t_ref, speedup=t_ref / t, kv_gb_per_s=gbs))
            print(f"{name:<12} {b:>5} {c:>5} {splits:>6} {err:>8.1e} {t:>10.4f} {t_ref:>9.4f} {t_ref / t:>7.1f}x {gbs:>7.0f}{'' if ok else '  FAIL'}")
            del batch; torch.cuda.empty_cache()


def run_splits(rows):
    print('\n## decode splits, one request of 4096 tokens (llama-8b shapes)\n')
    h, kvh, d = MODELS['llama-8b']
    q, k, v, meta = make_batch([4096], [1], h, kvh, d)
    for s in (1, 2, 4, 8, 16, 32):
        t = bench(lambda: paged_decode_attention(q, k, v, meta, num_splits=s))
        rows.append(dict(kind='splits', model='llama-8b', batch=1, ctx=4096, num_splits=s, triton_ms=t))
        print(f"splits {s:>3}: {t:.4f} ms")


def run_prefill(rows, quick):
    print('\n## prefill (chunks of new tokens over a cached prefix)\n')
    print(f"{'model':<12} {'reqs':>4} {'new':>5} {'prefix':>6} {'err':>8} {'triton ms':>10} {'ref ms':>9} {'speedup':>8} {'TFLOP/s':>8}")
    for name, (h, kvh, d) in MODELS.items():
        for n_req, n_new, prefix in prefill_cases(quick):
            ctx, new = [prefix + n_new] * n_req, [n_new] * n_req
            batch = make_batch(ctx, new, h, kvh, d)
            err, t, t_ref = compare(paged_attention_triton, batch)
            tflops = causal_flops(ctx, new, h, d) / (t * 1e-3) / 1e12
            ok = err < TOL
            rows.append(dict(kind='prefill', model=name, requests=n_req, new_tokens=n_new, prefix=prefix, err=err, ok=ok,
                             triton_ms=t, ref_ms=t_ref, speedup=t_ref / t, tflops=tflops))
            print(f"{name:<12} {n_req:>4} {n_new:>5} {prefix:>6} {err:>8.1e} {t:>10.4f} {t_ref:>9.4f} {t_ref / t:>7.1f}x {tflops:>8.1f}{'' if ok else '  FAIL'}")
            del batch; torch.cuda.empty_cache()


def run_mixed(rows):
    print('\n## mixed step: 64 decode rows (ctx 1024) + one 512-token chunk after a 1536-token prefix\n')
    for name, (h, kvh, d) in MODELS.items():
        batch = make_batch([1024] * 64 + [2048], [1] * 64 + [512], h, kvh, d)
        err, t, t_ref = compare(paged_attention_triton, batch)
        ok = err < TOL
        rows.append(dict(kind='mixed', model=name, err=err, ok=ok, triton_ms=t, ref_ms=t_ref, speedup=t_ref / t))
        print(f"{name:<12} err {err:.1e}  triton {t:.4f} ms  ref {t_ref:.4f} ms  {t_ref / t:.1f}x{'' if ok else '  FAIL'}")


def run_graph(rows):
    "Capture a pure-decode call in a CUDA graph, grow the contexts in place, replay, and check; time the replay."
    print('\n## CUDA graph: capture decode, change context_lens in place, replay\n')
    h, kvh, d = MODELS['qwen3-0.6b']
    b = 32
    q, k, v, meta = make_batch([1024] * b, [1] * b, h, kvh, d)
    attend = lambda: paged_attention_triton(q, k, v, meta, num_splits=4)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s): attend()        # compile and warm up off the capture
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph): out = attend()
    new_lens = torch.randint(1, 1025, (b,), generator=torch.Generator().manual_seed(1))
    meta.context_lens.copy_(new_lens.to(meta.context_lens))
    graph.replay(); torch.cuda.synchronize()
    tables = [meta.block_tables[i].tolist() for i in range(b)]
    ref_meta = AttentionMetadata.build(tables, [n - 1 for n in new_lens.tolist()], new_lens.tolist(), BLOCK, 'cuda')
    err = max_rel_error(out, paged_attention_ref(q, k, v, ref_meta))
    t_graph, t_eager = bench(graph.replay), bench(attend)
    ok = err < TOL
    rows.append(dict(kind='cuda_graph', model='qwen3-0.6b', batch=b, err=err, ok=ok, graph_ms=t_graph, eager_ms=t_eager))
    print(f"err after replay with new lengths {err:.1e}{'' if ok else '  FAIL'}; replay {t_graph:.4f} ms, eager {t_eager:.4f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='a few shapes only')
    args = ap.parse_args()
    if not torch.cuda.is_available(): sys.exit('needs a CUDA GPU')
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__} | triton {triton.__version__}")
    rows, t0 = [], time.time()
    run_decode(rows, args.quick)
    run_splits(rows)
    run_prefill(rows, args.quick)
    run_mixed(rows)
    run_graph(rows)
    failed = [r for r in rows if r.get('ok') is False]
    print(f"\n{len(rows)} measurements in {time.time() - t0:.0f}s, {len(failed)} failed checks")
    if os.environ.get('OUT'):
        result = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, triton=triton.__version__,
                      python=platform.python_version(), dtype=str(DTYPE), block_size=BLOCK,
                      command=' '.join(['python'] + sys.argv), rows=rows)
        path = os.path.join(os.environ['OUT'], 'kernels.json')
        with open(path, 'w') as f: json.dump(result, f, indent=1)
        print(f"wrote {path}")
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
