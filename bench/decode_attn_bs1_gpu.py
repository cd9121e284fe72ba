"""Issue 16 (int8 batch 1 at 1.6x bf16): at one decode row, how long does 05_kernels' decode attention take per layer,
and how much would other splits, tiles, or merging the splits inside the kernel (no second kernel) save?
llama-3.1-8b's attention shape (32 query heads, 8 kv heads, head dim 128, bf16 cache, 16-token blocks), one request of
128/256/384 tokens (the span of `quant_gpu.py decode`'s steps); 32 layers' caches, each layer's call one after another
in a CUDA graph (`gpu_timing.graph_ms`), µs per layer. Every variant is checked against the default's output.

    python bench/decode_attn_bs1_gpu.py        # $OUT/decode-attn-bs1.json (bench/results/decode-attn-bs1-h200.json: splits16
                                               # bn32 w4 s2 best overall, ~0.9 µs a layer under the default; merged: slower)
"""
import json, os, sys, time
from pathlib import Path
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms
from nano_serve.cache import AttentionMetadata
from nano_serve.kernels import (paged_decode_attention, _load_kv_tile, _online_softmax_step, _group_pad, _precision,
                                LOG2E)


@triton.jit
def merged_decode_kernel(Q, K, V, O, M_part, L_part, Acc_part, Count, block_tables, context_lens, query_start_loc,
                         scale_log2, stride_qt, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh,
                         stride_ot, stride_oh, stride_bt,
                         BLOCK_SIZE: tl.constexpr, GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr,
                         D_PAD: tl.constexpr, BLOCK_N: tl.constexpr, NUM_SPLITS: tl.constexpr, SPLITS_PAD: tl.constexpr,
                         PRECISION: tl.constexpr):
    "05_kernels' decode kernel (every row a decode row), where the last split to finish merges the splits' partials."
    i, kv_head, split = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    ctx = tl.load(context_lens + i)
    tok = tl.load(query_start_loc + i)
    per_split = tl.cdiv(tl.cdiv(ctx, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = split * per_split
    end = tl.minimum(start + per_split, ctx)
    g, d, n = tl.arange(0, GROUP_PAD), tl.arange(0, D_PAD), tl.arange(0, BLOCK_N)
    g_ok, d_ok = g < GROUP, d < HEAD_DIM
    ok = g_ok[:, None] & d_ok[None, :]
    heads = kv_head * GROUP + g
    q = tl.load(Q + tok * stride_qt + heads[:, None] * stride_qh + d[None, :], mask=ok, other=0.0)
    m = tl.full([GROUP_PAD], -1e30, tl.float32)
    l = tl.zeros([GROUP_PAD], tl.float32)
    acc = tl.zeros([GROUP_PAD, D_PAD], tl.float32)
    table_row = block_tables + i * stride_bt
    for s in range(start, end, BLOCK_N):
        pos = s + n
        valid = pos < end
        k = _load_kv_tile(K, table_row, pos, valid, kv_head, d, d_ok, stride_kb, stride_ks, stride_kh, BLOCK_SIZE)
        v = _load_kv_tile(V, table_row, pos, valid, kv_head, d, d_ok, stride_vb, stride_vs, stride_vh, BLOCK_SIZE)
        m, l, acc = _online_softmax_step(q, k, v, valid[None, :], m, l, acc, scale_log2, PRECISION, False)
    part = (i * tl.num_programs(1) * GROUP + heads) * NUM_SPLITS + split
    tl.store(M_part + part, m, mask=g_ok)
    tl.store(L_part + part, l, mask=g_ok)
    tl.store(Acc_part + part[:, None] * HEAD_DIM + d[None, :], acc, mask=ok)
    tl.debug_barrier()                                   # every thread's partials written before the count
    c = Count + i * tl.num_programs(1) + kv_head
    if tl.atomic_add(c, 1, sem='acq_rel', scope='gpu') == NUM_SPLITS - 1:   # the last split of this row and kv head
        tl.debug_barrier()
        s_ = tl.arange(0, SPLITS_PAD)
        s_ok = s_ < NUM_SPLITS
        for h in tl.static_range(GROUP):
            hp = ((i * tl.num_programs(1) * GROUP + kv_head * GROUP + h) * NUM_SPLITS + s_)
            mm = tl.load(M_part + hp, mask=s_ok, other=-1e30, cache_modifier='.cg')
            ll = tl.load(L_part + hp, mask=s_ok, other=0.0, cache_modifier='.cg')
            aa = tl.load(Acc_part + hp[:, None] * HEAD_DIM + d[None, :], mask=s_ok[:, None] & d_ok[None, :], other=0.0,
                         cache_modifier='.cg')
            w = tl.exp2(mm - tl.max(mm, 0))
            out = tl.sum(aa * w[:, None], 0) / tl.sum(ll * w, 0)
            tl.store(O + tok * stride_ot + (kv_head * GROUP + h) * stride_oh + d, out.to(O.dtype.element_ty), mask=d_ok)
        tl.atomic_xchg(c, 0)                             # ready for the next layer (and the next graph replay)


def merged(q, kc, vc, meta, count, splits, block_n, num_warps, num_stages):
    "Decode attention of every row by `merged_decode_kernel`: one launch."
    n, heads, d = q.shape
    kvh = kc.shape[2]
    out = torch.empty_like(q)
    mp = torch.empty(n, heads, splits, dtype=torch.float32, device=q.device)
    lp, ap = torch.empty_like(mp), torch.empty(n, heads, splits, d, dtype=torch.float32, device=q.device)
    merged_decode_kernel[(n, kvh, splits)](
        q, kc, vc, out, mp, lp, ap, count, meta.block_tables, meta.context_lens, meta.query_start_loc,
        d ** -0.5 * LOG2E, q.stride(0), q.stride(1), *kc.stride()[:3], *vc.stride()[:3], out.stride(0), out.stride(1),
        meta.block_tables.stride(0), BLOCK_SIZE=kc.shape[1], GROUP=heads // kvh, GROUP_PAD=_group_pad(heads // kvh),
        HEAD_DIM=d, D_PAD=triton.next_power_of_2(d), BLOCK_N=block_n, NUM_SPLITS=splits,
        SPLITS_PAD=max(2, triton.next_power_of_2(splits)), PRECISION=_precision(q.dtype), num_warps=num_warps, num_stages=num_stages)
    return out


def main():
    torch.manual_seed(0)
    layers, heads, kvh, d, bs = 32, 32, 8, 128, 16
    R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__,
         'date': time.strftime('%Y-%m-%d'), 'us_per_layer': {}}
    count = torch.zeros(1024, dtype=torch.int32, device='cuda')
    for ctx in (128, 256, 384):
        nb = -(-ctx // bs)
        caches = [(torch.randn(nb + 8, bs, kvh, d, device='cuda', dtype=torch.bfloat16),
                   torch.randn(nb + 8, bs, kvh, d, device='cuda', dtype=torch.bfloat16)) for _ in range(layers)]
        meta = AttentionMetadata.build([list(range(3, 3 + nb))], [ctx - 1], [ctx], bs, device='cuda')
        meta.decode_only = True
        qs = [torch.randn(1, heads, d, device='cuda', dtype=torch.bfloat16) for _ in range(layers)]
        want = [paged_decode_attention(q, kc, vc, meta).float() for q, (kc, vc) in zip(qs, caches)]
        res = {}
        def time_it(name, fn):
            try:
                got = [fn(q, kc, vc).float() for q, (kc, vc) in zip(qs, caches)]
                err = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(got, want))
                us = graph_ms([lambda q=q, kc=kc, vc=vc: fn(q, kc, vc) for q, (kc, vc) in zip(qs, caches)], reps=7) * 1e3
                res[name] = [round(us, 2), round(err, 5)]
            except Exception as e: res[name] = repr(e)[:200]
            print(ctx, name, res[name], flush=True)
        time_it('default', lambda q, kc, vc: paged_decode_attention(q, kc, vc, meta))
        for splits in (1, 2, 4, 8, 16):
            for bn in (16, 32, 64):
                for w, st in ((4, 3), (2, 2), (4, 2)):
                    time_it(f'splits{splits} bn{bn} w{w} s{st}', lambda q, kc, vc: paged_decode_attention(
                        q, kc, vc, meta, num_splits=splits, block_n=bn, num_warps=w, num_stages=st))
                    if splits > 1:
                        time_it(f'merged splits{splits} bn{bn} w{w} s{st}', lambda q, kc, vc: merged(
                            q, kc, vc, meta, count, splits, bn, w, st))
        assert count.eq(0).all(), 'a count was left set'
        R['us_per_layer'][ctx] = res
        best = sorted((v[0], k) for k, v in res.items() if isinstance(v, list) and v[1] < 0.02)[:6]
        print(ctx, 'best', best, flush=True)
    out = Path(os.environ.get('OUT', '.')) / 'decode-attn-bs1.json'
    out.write_text(json.dumps(R, indent=1))


if __name__ == '__main__':
    main()
