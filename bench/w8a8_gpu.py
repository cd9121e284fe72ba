"""Issue 16: at one row, is a product of integers faster than 05c's int8-weight x bf16-activation kernels? Those widen
every weight byte before multiplying; PTX's `dp4a` multiplies four bytes of a word by four bytes of another, one
instruction, nothing widened. Timed per llama-3.1-8b matrix inside a CUDA graph over enough weight copies to defeat
the L2 (`gpu_timing.graph_ms`), beside the kernels they would replace; each checked against float64.
Exploration for 05c_quant_kernels.

    python bench/w8a8_gpu.py          # one dp4a a word: the row rounded to int8 (quality aside: how fast can it be?)
                                      # $OUT/w8a8-gpu.json (bench/results/w8a8-h200.json; its `mma` rows, int8 tl.dot
                                      # with the row padded to 16, failed to compile under Triton 3.6 and are dropped here)
    python bench/w8a8_gpu.py split    # the row as 16-bit integers by a rounding kernel of its own, then two dp4a a word,
                                      # against the rule before it; $OUT/w8a8-package.json (`w8a8-package-h200.json`,
                                      # where this pair was still the package's `int8_row_mm`)
    python bench/w8a8_gpu.py fused    # 05c's int8_row_mm (each program rounds the row itself) swept, beside `split`;
                                      # $OUT/w8a8-fused.json (`w8a8-fused-h200.json`, again `-2`; `w8a8-ahead-h200.json` also swept
                                      # a kernel that loaded each block's weights one block ahead: no faster, dropped)
                                      # (`w8a8-xblock-h200.json` swept a kernel whose pass for max|x| read 1,024 or 4,096
                                      # words at a time, a parameter the kernel no longer has: no faster in the engine)
    python bench/w8a8_gpu.py fused dp2a     # the row as 16-bit pairs and PTX's `dp2a` (`w8a8-dp2a-h200.json`)
"""
import itertools, json, os, sys, time
from pathlib import Path
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B, int8_copies
from nano_serve.quant_kernels import weight_mm, weight_only_mm, one_row_mm, int8_row_mm, _dp4a


@triton.jit
def dp4a_kernel(XQ, W, S, SX, Y, N, K4, stride_wn, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    "`ROWS` outputs of one int8 row `XQ` (as int32 words of four) times int8 weights `W` (likewise), by `dp4a`; scaled."
    rn = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    n_ok = rn < N
    rk = tl.arange(0, BLOCK)
    acc = tl.zeros([ROWS, BLOCK], tl.int32)
    for k0 in range(0, K4, BLOCK):
        k = k0 + rk
        x = tl.load(XQ + k, mask=k < K4, other=0)
        w = tl.load(W + rn[:, None] * stride_wn + k[None, :], mask=n_ok[:, None] & (k < K4)[None, :], other=0)
        acc = _dp4a(w, tl.broadcast_to(x[None, :], [ROWS, BLOCK]), acc, True, True)
    y = tl.sum(acc, 1).to(tl.float32) * tl.load(S + rn, mask=n_ok, other=0.0) * tl.load(SX)
    tl.store(Y + rn, y.to(Y.dtype.element_ty), mask=n_ok)


@triton.jit
def round_row_kernel(X, OUT, SX, K, K4, BLOCK: tl.constexpr, BITS: tl.constexpr):
    """Row `X` `[K]` rounded over one scale `SX` (max|x| over 127 or 32767) and packed four bytes a word: int8 (`BITS` 8),
    or 16-bit `q = 256·hi + lo` as the `hi` bytes' words then the `lo` bytes'."""
    rw, rj = tl.arange(0, BLOCK), tl.arange(0, 4)
    k = rw[:, None] * 4 + rj[None, :]
    x = tl.load(X + k, mask=k < K, other=0.0).to(tl.float32)
    s = tl.maximum(tl.max(tl.max(tl.abs(x), 1), 0), 1e-30) / (127.0 if BITS == 8 else 32767.0)
    q = x / s
    q = tl.where(q >= 0, q + 0.5, q - 0.5).to(tl.int32)   # rounded half away from zero
    shift = rj[None, :] * 8
    if BITS == 8: tl.store(OUT + rw, tl.sum((q & 0xFF) << shift, 1), mask=rw < K4)
    else:
        tl.store(OUT + rw, tl.sum(((q >> 8) & 0xFF) << shift, 1), mask=rw < K4)   # bytes that do not overlap: the sum is the word
        tl.store(OUT + K4 + rw, tl.sum((q & 0xFF) << shift, 1), mask=rw < K4)
    tl.store(SX, s)


@triton.jit
def split_kernel(WORDS, SX, W, S, Y, N, K4, stride_wn, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    "`ROWS` outputs of a row of 16-bit integers (`round_row_kernel`'s words) times int8 weights read as words: two dp4a a word."
    rn = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    n_ok = rn < N
    rk = tl.arange(0, BLOCK)
    acc_hi = tl.zeros([ROWS, BLOCK], tl.int32)
    acc_lo = tl.zeros([ROWS, BLOCK], tl.int32)
    for k0 in range(0, K4, BLOCK):
        k = k0 + rk
        hi = tl.broadcast_to(tl.load(WORDS + k, mask=k < K4, other=0)[None, :], [ROWS, BLOCK])
        lo = tl.broadcast_to(tl.load(WORDS + K4 + k, mask=k < K4, other=0)[None, :], [ROWS, BLOCK])
        w = tl.load(W + rn[:, None] * stride_wn + k[None, :], mask=n_ok[:, None] & (k < K4)[None, :], other=0)
        acc_hi = _dp4a(w, hi, acc_hi, True, True)
        acc_lo = _dp4a(w, lo, acc_lo, False, True)
    q = tl.sum(acc_hi, 1).to(tl.float32) * 256.0 + tl.sum(acc_lo, 1).to(tl.float32)
    tl.store(Y + rn, (q * tl.load(S + rn, mask=n_ok, other=0.0) * tl.load(SX)).to(Y.dtype.element_ty), mask=n_ok)


@triton.jit
def _dp2a(a, b, c, HI: tl.constexpr, ASM: tl.constexpr):
    "`c` plus two products: the signed 16-bit halves of `a` times bytes 0-1 (`HI`: 2-3) of `b`, signed: PTX's `dp2a`."
    if ASM:
        if HI: c = tl.inline_asm_elementwise("dp2a.hi.s32.s32 $0, $1, $2, $3;", "=r,r,r,r", [a, b, c], dtype=tl.int32, is_pure=True, pack=1)
        else: c = tl.inline_asm_elementwise("dp2a.lo.s32.s32 $0, $1, $2, $3;", "=r,r,r,r", [a, b, c], dtype=tl.int32, is_pure=True, pack=1)
    else:
        if HI: c += ((a << 16) >> 16) * ((b << 8) >> 24) + (a >> 16) * (b >> 24)
        else: c += ((a << 16) >> 16) * ((b << 24) >> 24) + (a >> 16) * ((b << 16) >> 24)
    return c


@triton.jit
def dp2a_kernel(X32, W, S, Y, N, K4, stride_wn, ROWS: tl.constexpr, BLOCK: tl.constexpr, ASM: tl.constexpr):
    """The row as 16-bit integers in pairs (one 32-bit word each) times int8 weight words by `dp2a`: two instructions a
    weight word, and a third of `int8_row_mm`'s work a value to round the row (each program rounds it itself)."""
    rn = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    n_ok = rn < N
    rw = tl.arange(0, BLOCK)
    mx = tl.zeros([BLOCK], tl.int32)
    for k0 in range(0, 2 * K4, BLOCK):   # max|x| over the bf16 pairs: magnitude bits order as magnitudes do
        u = tl.load(X32 + k0 + rw, mask=k0 + rw < 2 * K4, other=0)
        mx = tl.maximum(mx, tl.maximum(u & 0x7FFF, (u >> 16) & 0x7FFF))
    sx = tl.maximum((tl.max(mx, 0) << 16).to(tl.float32, bitcast=True), 1e-30) / 32767.0
    inv = 1.0 / sx
    acc_a = tl.zeros([ROWS, BLOCK], tl.int32)
    acc_b = tl.zeros([ROWS, BLOCK], tl.int32)
    for k0 in range(0, K4, BLOCK):
        k = k0 + rw
        u0 = tl.load(X32 + 2 * k, mask=k < K4, other=0)       # values 4k, 4k+1
        u1 = tl.load(X32 + 2 * k + 1, mask=k < K4, other=0)   # values 4k+2, 4k+3
        b0 = ((u0 << 16).to(tl.float32, bitcast=True) * inv + 12582912.0).to(tl.int32, bitcast=True)   # low 16 bits: round(x / sx)
        b1 = ((u0 & -65536).to(tl.float32, bitcast=True) * inv + 12582912.0).to(tl.int32, bitcast=True)
        b2 = ((u1 << 16).to(tl.float32, bitcast=True) * inv + 12582912.0).to(tl.int32, bitcast=True)
        b3 = ((u1 & -65536).to(tl.float32, bitcast=True) * inv + 12582912.0).to(tl.int32, bitcast=True)
        p01, p23 = (b0 & 0xFFFF) | (b1 << 16), (b2 & 0xFFFF) | (b3 << 16)
        w = tl.load(W + rn[:, None] * stride_wn + k[None, :], mask=n_ok[:, None] & (k < K4)[None, :], other=0)
        acc_a = _dp2a(tl.broadcast_to(p01[None, :], [ROWS, BLOCK]), w, acc_a, False, ASM)
        acc_b = _dp2a(tl.broadcast_to(p23[None, :], [ROWS, BLOCK]), w, acc_b, True, ASM)
    q = tl.sum(acc_a.to(tl.float32), 1) + tl.sum(acc_b.to(tl.float32), 1)
    tl.store(Y + rn, (q * tl.load(S + rn, mask=n_ok, other=0.0) * sx).to(Y.dtype.element_ty), mask=n_ok)


def dp2a(x, w, s, t, asm=True):
    n, k = w.shape
    y = torch.empty(1, n, dtype=x.dtype, device=x.device)
    dp2a_kernel[(triton.cdiv(n, t['ROWS']),)](x.view(torch.int32), w.view(torch.int32), s, y, n, k // 4, k // 4, ASM=asm, **t)
    return y


def round_row(x, bits):
    "`round_row_kernel` on one row `x` `[1, K]`: (int32 words, the scale)."
    k = x.shape[1]
    out = torch.empty((1 if bits == 8 else 2) * (k // 4), dtype=torch.int32, device=x.device)
    sx = torch.empty(1, device=x.device)
    block = triton.next_power_of_2(k // 4)
    round_row_kernel[(1,)](x, out, sx, k, k // 4, BLOCK=block, BITS=bits, num_warps=8 if block >= 1024 else 4)
    return out, sx


def dp4a(words, sx, w, s, rows, block, warps):
    n, k = w.shape
    y = torch.empty(1, n, dtype=torch.bfloat16, device='cuda')
    dp4a_kernel[(triton.cdiv(n, rows),)](words, w.view(torch.int32), s, sx, y, n, k // 4, k // 4, ROWS=rows, BLOCK=block, num_warps=warps, num_stages=2)
    return y


def split(x, w, s, t):
    "The rounding kernel, then `split_kernel` with tiles `t`."
    n, k = w.shape
    words, sx = round_row(x, 16)
    y = torch.empty(1, n, dtype=x.dtype, device=x.device)
    split_kernel[(triton.cdiv(n, t['ROWS']),)](words, sx, w.view(torch.int32), s, y, n, k // 4, k // 4, **t)
    return y


def before(x, w, s):
    "The rule before integer products: int8 at 8,192 outputs or fewer by `one_row_mm`, wider by the tile kernel."
    return one_row_mm(x, w, s, dict(ROWS=4, BLOCK_K=1024, num_warps=4, num_stages=2)) if w.shape[0] <= 8192 else weight_only_mm(x, w, s)


def shapes():
    "Per llama-3.1-8b matrix: its name, weight copies, scales, a bf16 row with one channel far above the rest, and an error function against float64."
    torch.manual_seed(0)
    for name, (n, k) in LLAMA_8B.items():
        ws, s = int8_copies(n, k), torch.rand(n, device='cuda') / 100
        x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16); x[0, 5] = 60.0
        want = x.double() @ (ws[0].double() * s.double()[:, None]).t()
        yield name, ws, s, x, lambda y, want=want: ((y.double() - want).abs().max() / want.abs().max()).item()
        del ws
        torch.cuda.empty_cache()


def sweep(res, cands, ws, err):
    "Time each (kind, key, fn of the weights) in `cands` into `res`, skipping wrong or failing ones; the best of each kind."
    best = {}
    for kind, key, f in cands:
        try:
            e = err(f(ws[0]))
            if e > 2e-2: res[key] = f'wrong: {e:.3g}'; continue
            res[key] = round(graph_ms([lambda w=w: f(w) for w in ws]) * 1e3, 2)
            if res[key] < best.get(kind, (1e9,))[0]: best[kind] = (res[key], key, round(e, 5))
        except Exception as ex: res[key] = f'failed: {type(ex).__name__}: {str(ex)[:300]}'
    return best


MODE = (sys.argv[1:] or ['dp4a'])[0]
R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__, 'date': time.strftime('%Y-%m-%d'), 'shapes': {}}
for name, ws, s, x, err in shapes():
    res = R['shapes'][name] = {'MB': ws[0].numel() / 1e6, 'us before': graph_ms([lambda w=w: before(x, w, s) for w in ws]) * 1e3}
    if MODE == 'dp4a':
        res['us bf16 weight_mm'] = graph_ms([lambda w=w, o=torch.ones(w.shape[0], device='cuda'): weight_mm(x, w, o)
                                             for w in [torch.randn(*ws[0].shape, dtype=torch.bfloat16, device='cuda') for _ in range(max(2, len(ws) // 2))]]) * 1e3
        res['us rounding the row'] = graph_ms([lambda: round_row(x, 8)] * 20) * 1e3
        xq, sx = round_row(x, 8)
        cands = [('dp4a', f'dp4a rows{r} block{b} warps{wp}', lambda w, r=r, b=b, wp=wp: dp4a(xq, sx, w, s, r, b, wp))
                 for r, b, wp in itertools.product((1, 2, 4, 8), (128, 256, 512), (2, 4, 8))]
    elif MODE == 'split':
        res['us rounding the row'] = graph_ms([lambda: round_row(x, 16)] * 20) * 1e3
        cands = [('split', 'split ROWS2 BLOCK512 num_warps4', lambda w: split(x, w, s, dict(ROWS=2, BLOCK=512, num_warps=4, num_stages=2)))]
        res['err before'] = err(before(x, ws[0], s))
    else:
        cands = [('split', 'split ROWS2 BLOCK512 num_warps4', lambda w: split(x, w, s, dict(ROWS=2, BLOCK=512, num_warps=4, num_stages=2)))]
        if 'dp2a' in sys.argv:   # the row in 16-bit pairs, `dp2a`, beside the package's kernel with its own tiles
            cands = [('fused', 'int8_row_mm', lambda w: int8_row_mm(x, w, s))]
            cands += [('dp2a', f'dp2a rows{r} block{b} warps{wp}', lambda w, t=dict(ROWS=r, BLOCK=b, num_warps=wp, num_stages=2): dp2a(x, w, s, t))
                      for r, b, wp in itertools.product((8, 16, 32), (64, 128, 256), (4, 8))]
        else: cands += [('fused', f'fused rows{r} block{b} warps{wp}', lambda w, t=dict(ROWS=r, BLOCK=b, num_warps=wp, num_stages=2): int8_row_mm(x, w, s, t))
                        for r, b, wp in itertools.product((4, 8, 16), (128, 256, 512), (4, 8))]   # (the first sweep also swept split's tiles)
        res['us int8_row_mm, its own tiles'] = graph_ms([lambda w=w: int8_row_mm(x, w, s) for w in ws]) * 1e3
    res['best'] = sweep(res, cands, ws, err)
    fails = [v for v in res.values() if isinstance(v, str)]
    print(name, {k: v for k, v in res.items() if k.startswith('us') or k == 'best'}, len(fails), 'failed', fails[:1], flush=True)
out = Path(os.environ.get('OUT', '/tmp')) / {'dp4a': 'w8a8-gpu.json', 'split': 'w8a8-package.json', 'fused': 'w8a8-fused.json'}[MODE]
out.write_text(json.dumps(R, indent=1))
print('wrote', out)
