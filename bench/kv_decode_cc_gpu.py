"""Decode attention on the CUDA cores against the tensor cores (issue 16's FP8 cache); `--vt-only`: the tensor cores over values stored transposed in each block; `--qk8`: queries rounded to e4m3, QK on e4m3 tensor cores: the qwen3-0.6b shape (16 heads,
8 kv heads of 128), 256 and 64 rows of 1,024 tokens, a bfloat16 and an e4m3 cache, each kernel timed alone in a CUDA graph.
A group of 2 query heads fills 2 of the 16 rows a tensor-core tile multiplies; on the CUDA cores it costs 2.
Prints a table; writes $OUT/kv-decode-cc.json.
"""
import json, os, sys, time
from pathlib import Path
import torch, triton
import triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nano_serve.cache import AttentionMetadata, scattered_block_tables
from nano_serve.kernels import paged_decode_attention, _load_kv_tile, LOG2E
from gpu_timing import graph_ms


@triton.jit
def _weights(sc, valid, m):
    "Online softmax over one tile of scores (base 2): the tile's weights, the factor for what came before, the new running max."
    sc = tl.where(valid[None, :], sc, float('-inf'))
    m_new = tl.maximum(m, tl.max(sc, 1))
    return tl.exp2(sc - m_new[:, None]), tl.exp2(m - m_new), m_new


@triton.jit
def _write(O, tok, heads, d, g_ok, acc, l, stride_ot, stride_oh):
    "Normalise and store one program's query heads."
    tl.store(O + tok * stride_ot + heads[:, None] * stride_oh + d[None, :], (acc / l[:, None]).to(O.dtype.element_ty), mask=g_ok[:, None])


@triton.jit
def _cc_kernel(Q, K, V, O, block_tables, context_lens, query_start_loc, scale_log2,
               stride_qt, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, stride_ot, stride_oh, stride_bt,
               BLOCK_SIZE: tl.constexpr, GROUP: tl.constexpr, GROUP_P: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr):
    "One request's whole context for the query heads of one kv head, products on the CUDA cores in float32."
    req, kv_head = tl.program_id(0), tl.program_id(1)
    ctx = tl.load(context_lens + req)
    tok = tl.load(query_start_loc + req)
    g, d, n = tl.arange(0, GROUP_P), tl.arange(0, HEAD_DIM), tl.arange(0, BLOCK_N)
    g_ok, d_ok = g < GROUP, d < HEAD_DIM
    heads = kv_head * GROUP + g
    q = tl.load(Q + tok * stride_qt + heads[:, None] * stride_qh + d[None, :], mask=g_ok[:, None], other=0.0).to(tl.float32) * scale_log2
    m = tl.full([GROUP_P], -1e30, tl.float32)
    l = tl.zeros([GROUP_P], tl.float32)
    acc = tl.zeros([GROUP_P, HEAD_DIM], tl.float32)
    table_row = block_tables + req * stride_bt
    for s in range(0, ctx, BLOCK_N):
        pos = s + n
        valid = pos < ctx
        k = _load_kv_tile(K, table_row, pos, valid, kv_head, d, d_ok, stride_kb, stride_ks, stride_kh, BLOCK_SIZE).to(tl.float32)
        v = _load_kv_tile(V, table_row, pos, valid, kv_head, d, d_ok, stride_vb, stride_vs, stride_vh, BLOCK_SIZE).to(tl.float32)
        sc = tl.sum(q[:, None, :] * k[None, :, :], 2)
        p, alpha, m_new = _weights(sc, valid, m)
        acc = acc * alpha[:, None] + tl.sum(p[:, :, None] * v[None, :, :], 1)
        l = l * alpha + tl.sum(p, 1)
        m = m_new
    _write(O, tok, heads, d, g_ok, acc, l, stride_ot, stride_oh)


@triton.jit
def _vt_kernel(Q, K, VT, O, block_tables, context_lens, query_start_loc, scale_log2,
               stride_qt, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vh, stride_vd, stride_ot, stride_oh, stride_bt,
               BLOCK_SIZE: tl.constexpr, GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, F16: tl.constexpr):
    "Today's tensor-core loop over values stored transposed within a block ([blocks, kv heads, D, block]): V's product reads them along its reduction axis."
    req, kv_head = tl.program_id(0), tl.program_id(1)
    ctx = tl.load(context_lens + req)
    tok = tl.load(query_start_loc + req)
    g, d, n = tl.arange(0, GROUP_PAD), tl.arange(0, HEAD_DIM), tl.arange(0, BLOCK_N)
    g_ok, d_ok = g < GROUP, d < HEAD_DIM
    heads = kv_head * GROUP + g
    q = tl.load(Q + tok * stride_qt + heads[:, None] * stride_qh + d[None, :], mask=g_ok[:, None], other=0.0)
    if F16: q = q.to(tl.float16)
    m = tl.full([GROUP_PAD], -1e30, tl.float32)
    l = tl.zeros([GROUP_PAD], tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM], tl.float32)
    table_row = block_tables + req * stride_bt
    for s in range(0, ctx, BLOCK_N):
        pos = s + n
        valid = pos < ctx
        k = _load_kv_tile(K, table_row, pos, valid, kv_head, d, d_ok, stride_kb, stride_ks, stride_kh, BLOCK_SIZE).to(q.dtype)
        blk = tl.load(table_row + pos // BLOCK_SIZE, mask=valid, other=0).to(tl.int64)
        vt = tl.load(VT + blk[None, :] * stride_vb + kv_head * stride_vh + d[:, None] * stride_vd + (pos % BLOCK_SIZE)[None, :],
                     mask=valid[None, :], other=0.0).to(q.dtype)
        sc = tl.dot(q, tl.trans(k)) * scale_log2
        p, alpha, m_new = _weights(sc, valid, m)
        acc = acc * alpha[:, None] + tl.dot(p.to(q.dtype), tl.trans(vt))
        l = l * alpha + tl.sum(p, 1)
        m = m_new
    _write(O, tok, heads, d, g_ok, acc, l, stride_ot, stride_oh)


def vt_attention(q, k, vt, meta, block_n, num_warps, num_stages):
    "The tensor-core kernel over V stored transposed within each block."
    out = torch.empty_like(q)
    heads, d, kvh = q.shape[1], q.shape[2], k.shape[2]
    group = heads // kvh
    _vt_kernel[(q.shape[0], kvh)](q, k, vt, out, meta.block_tables, meta.context_lens, meta.query_start_loc, d ** -0.5 * LOG2E,
                                  q.stride(0), q.stride(1), *k.stride()[:3], *vt.stride()[:3], out.stride(0), out.stride(1), meta.block_tables.stride(0),
                                  BLOCK_SIZE=k.shape[1], GROUP=group, GROUP_PAD=max(16, triton.next_power_of_2(group)), HEAD_DIM=d, BLOCK_N=block_n,
                                  F16=k.dtype == torch.float8_e4m3fn, num_warps=num_warps, num_stages=num_stages)
    return out


@triton.jit
def _qk8_kernel(Q8, QS, K, V, O, block_tables, context_lens, query_start_loc, scale_log2,
                stride_qt, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh, stride_ot, stride_oh, stride_bt,
                BLOCK_SIZE: tl.constexpr, GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr):
    "Queries rounded to e4m3 (a scale per token and head, `QS`) times e4m3 keys on the tensor cores as they lie; values widened to float16 as today."
    req, kv_head = tl.program_id(0), tl.program_id(1)
    ctx = tl.load(context_lens + req)
    tok = tl.load(query_start_loc + req)
    g, d, n = tl.arange(0, GROUP_PAD), tl.arange(0, HEAD_DIM), tl.arange(0, BLOCK_N)
    g_ok, d_ok = g < GROUP, d < HEAD_DIM
    heads = kv_head * GROUP + g
    q = tl.load(Q8 + tok * stride_qt + heads[:, None] * stride_qh + d[None, :], mask=g_ok[:, None], other=0.0)
    qs = tl.load(QS + tok * (tl.num_programs(1) * GROUP) + heads, mask=g_ok, other=1.0) * scale_log2
    m = tl.full([GROUP_PAD], -1e30, tl.float32)
    l = tl.zeros([GROUP_PAD], tl.float32)
    acc = tl.zeros([GROUP_PAD, HEAD_DIM], tl.float32)
    table_row = block_tables + req * stride_bt
    for s in range(0, ctx, BLOCK_N):
        pos = s + n
        valid = pos < ctx
        k = _load_kv_tile(K, table_row, pos, valid, kv_head, d, d_ok, stride_kb, stride_ks, stride_kh, BLOCK_SIZE)
        v = _load_kv_tile(V, table_row, pos, valid, kv_head, d, d_ok, stride_vb, stride_vs, stride_vh, BLOCK_SIZE).to(tl.float16)
        sc = tl.dot(q, tl.trans(k)) * qs[:, None]
        p, alpha, m_new = _weights(sc, valid, m)
        acc = acc * alpha[:, None] + tl.dot(p.to(tl.float16), v)
        l = l * alpha + tl.sum(p, 1)
        m = m_new
    _write(O, tok, heads, d, g_ok, acc, l, stride_ot, stride_oh)


def qk8_attention(q, k, v, meta, block_n, num_warps, num_stages, group_pad=16):
    "Queries to e4m3 with a scale per token and head (timed with the kernel), then `_qk8_kernel`."
    qs = (q.float().abs().amax(-1) / 448.0).clamp(min=1e-12)
    q8 = (q.float() / qs[..., None]).to(torch.float8_e4m3fn)
    out = torch.empty_like(q)
    heads, d, kvh = q.shape[1], q.shape[2], k.shape[2]
    group = heads // kvh
    _qk8_kernel[(q.shape[0], kvh)](q8, qs, k, v, out, meta.block_tables, meta.context_lens, meta.query_start_loc, d ** -0.5 * LOG2E,
                                   q8.stride(0), q8.stride(1), *k.stride()[:3], *v.stride()[:3], out.stride(0), out.stride(1), meta.block_tables.stride(0),
                                   BLOCK_SIZE=k.shape[1], GROUP=group, GROUP_PAD=group_pad, HEAD_DIM=d, BLOCK_N=block_n,
                                   num_warps=num_warps, num_stages=num_stages)
    return out


def cc_attention(q, k, v, meta, block_n, num_warps, num_stages):
    "The CUDA-core kernel over every row (all decode, no splits)."
    out = torch.empty_like(q)
    heads, d, kvh = q.shape[1], q.shape[2], k.shape[2]
    group = heads // kvh
    _cc_kernel[(q.shape[0], kvh)](q, k, v, out, meta.block_tables, meta.context_lens, meta.query_start_loc, d ** -0.5 * LOG2E,
                                  q.stride(0), q.stride(1), *k.stride()[:3], *v.stride()[:3], out.stride(0), out.stride(1), meta.block_tables.stride(0),
                                  BLOCK_SIZE=k.shape[1], GROUP=group, GROUP_P=triton.next_power_of_2(group), HEAD_DIM=d, BLOCK_N=block_n,
                                  num_warps=num_warps, num_stages=num_stages)
    return out


R = {'gpu': torch.cuda.get_device_name(0), 'date': time.strftime('%Y-%m-%d'), 'runs': []}
kvh, heads, d, bs, ctx = 8, 16, 128, 16, 1024
for rows in (256, 64):
    nblk = rows * ctx // bs + 8
    meta = AttentionMetadata.build(scattered_block_tables([ctx] * rows, bs, nblk), [ctx - 1] * rows, [ctx] * rows, bs, 'cuda')
    torch.manual_seed(0)
    q = torch.randn(rows, heads, d, device='cuda', dtype=torch.bfloat16)
    kb = torch.randn(nblk, bs, kvh, d, device='cuda', dtype=torch.bfloat16); vb = torch.randn_like(kb)
    for name, (k, v) in {'bf16': (kb, vb), 'fp8': (kb.to(torch.float8_e4m3fn), vb.to(torch.float8_e4m3fn))}.items():
        byts = 2 * rows * ctx * kvh * d * k.element_size()
        ref = paged_decode_attention(q, k.to(torch.bfloat16), v.to(torch.bfloat16), meta, num_splits=1).float()
        def rec(kind, fn, **cfg):
            try:
                err = (fn().float() - ref).abs().max().item()
                ms = graph_ms([fn] * 10)
                r = dict(rows=rows, cache=name, kind=kind, **cfg, ms=round(ms, 4), TBps=round(byts / ms / 1e9, 2), max_err=round(err, 4))
            except Exception as e: r = dict(rows=rows, cache=name, kind=kind, **cfg, error=repr(e)[:200])
            R['runs'].append(r); print(json.dumps(r), flush=True)
        rec('tensor cores (today)', lambda: paged_decode_attention(q, k, v, meta))
        for bn, nw, ns in [] if '--vt-only' in sys.argv or '--qk8' in sys.argv else [(64, 4, 3), (128, 2, 2), (128, 4, 2), (64, 2, 3), (128, 2, 3), (256, 4, 2)]:
            rec('tensor cores', lambda: paged_decode_attention(q, k, v, meta, block_n=bn, num_warps=nw, num_stages=ns), block_n=bn, num_warps=nw, num_stages=ns)
        if '--qk8' in sys.argv:
            if name == 'fp8':
                for bn, nw, ns, gp in [(64, 2, 2, 16), (128, 2, 2, 16), (128, 4, 2, 16), (64, 4, 3, 16), (128, 4, 2, 64), (64, 4, 3, 64), (128, 8, 2, 64)]:
                    rec('e4m3 products for QK', lambda: qk8_attention(q, k, v, meta, bn, nw, ns, gp), block_n=bn, num_warps=nw, num_stages=ns, group_pad=gp)
            continue
        vt = v.permute(0, 2, 3, 1).contiguous()   # [blocks, kv heads, D, block]
        for bn in (32, 64, 128, 256):
            for nw in (2, 4, 8):
                for ns in (2, 3, 4):
                    rec('tensor cores, V transposed', lambda: vt_attention(q, k, vt, meta, bn, nw, ns), block_n=bn, num_warps=nw, num_stages=ns)
        if '--vt-only' in sys.argv: continue
        for bn in (16, 32, 64, 128):
            for nw in (1, 2, 4, 8):
                for ns in (1, 2, 3):
                    rec('cuda cores', lambda: cc_attention(q, k, v, meta, bn, nw, ns), block_n=bn, num_warps=nw, num_stages=ns)
best = {}
for r in R['runs']:
    if 'ms' in r and (r['max_err'] < 0.05 or 'e4m3' in r['kind']):
        key = (r['rows'], r['cache'], r['kind'].split(' (')[0])
        if key not in best or r['ms'] < best[key]['ms']: best[key] = r
R['best'] = [dict(v) for v in best.values()]
print('| rows | cache | kind | best tiles | ms | TB/s | max error |'); print('|---|---|---|---|---|---|---|')
for (rows, c, kind), r in sorted(best.items()):
    print(f"| {rows} | {c} | {kind} | {r.get('block_n')}/{r.get('num_warps')}/{r.get('num_stages')} | {r['ms']} | {r['TBps']} | {r['max_err']} |")
out = os.environ.get('OUT')
if out: Path(out, 'kv-decode-qk8.json' if '--qk8' in sys.argv else 'kv-decode-vt.json' if '--vt-only' in sys.argv else 'kv-decode-cc.json').write_text(json.dumps(R, indent=1))
