"""Issue 16: how much of llama-3.1-8b's int8 batch-1 step was each one-row product's first pass (the row's max|x|,
read by every program before its first weights)? The kernel of that time (one scale a row, kept here), an upper
bound (that pass removed: a fixed scale, wrong numbers, the same bytes and instructions otherwise), and 05c's kernel
now (each word of four values at its own power-of-two scale, no pass), checked against float64 on the 8B's matrices,
then timed in the step beside bf16, in one call.

    python bench/int8_scales_gpu.py   # $OUT/int8-scales.json
    # bench/results/int8-scales-h200.json was taken the other way round: the package still had one scale a row
    # ('int8'), and the word scales (then 2^(13 - e), a bit less precise than 05c's 2^(14 - e)) were this file's candidate;
    # int8-scales-h200-2.json is this file as it is now: 05c 2.753 and 2.760 ms, one scale a row 2.888, no pass 2.696 (bf16 4.461-4.469).
"""
import sys
from pathlib import Path
import torch, triton, triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import open_bracket, record_step, patched_steps, close_bracket
import nano_serve.quant_kernels as qk
from nano_serve.quant_kernels import _bf16_at, _dp4a


@triton.jit
def row_scale_kernel(X64, W, S, Y, N, K4, stride_wn, ROWS: tl.constexpr, BLOCK: tl.constexpr, ASM: tl.constexpr,
                     MAX_PASS: tl.constexpr = True):
    "05c's `_int8_row_kernel` before the word scales: one scale for the row, `max|x| / 32767`, from a first pass over it (or a fixed one)."
    rn = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    n_ok = rn < N
    rw = tl.arange(0, BLOCK)
    if MAX_PASS:
        mx = tl.zeros([BLOCK], tl.int64)
        for k0 in range(0, K4, BLOCK):   # max|x|: a bfloat16's magnitude bits order as its magnitude does
            v = tl.load(X64 + k0 + rw, mask=k0 + rw < K4, other=0)
            for j in tl.static_range(4): mx = tl.maximum(mx, (v >> (16 * j)) & 0x7FFF)
        sx = tl.maximum((tl.max(mx, 0) << 16).to(tl.int32).to(tl.float32, bitcast=True), 1e-30) / 32767.0
    else: sx = 0.0001   # the upper bound: no pass, wrong numbers
    inv = 1.0 / sx
    acc_hi = tl.zeros([ROWS, BLOCK], tl.int32)
    acc_lo = tl.zeros([ROWS, BLOCK], tl.int32)
    for k0 in range(0, K4, BLOCK):
        k = k0 + rw
        v = tl.load(X64 + k, mask=k < K4, other=0)
        hi = tl.zeros([BLOCK], tl.int32)
        lo = tl.zeros([BLOCK], tl.int32)
        for j in tl.static_range(4):   # q = round(x / sx) in -32767..32767, as 256·hi + lo
            q = (_bf16_at(v, j) * inv + 12582912.0).to(tl.int32, bitcast=True) - 0x4B400000   # + 1.5·2²³: rounded, in the low bits
            hi = hi | (((q >> 8) & 0xFF) << (8 * j))
            lo = lo | ((q & 0xFF) << (8 * j))
        w = tl.load(W + rn[:, None] * stride_wn + k[None, :], mask=n_ok[:, None] & (k < K4)[None, :], other=0)
        acc_hi = _dp4a(w, tl.broadcast_to(hi[None, :], [ROWS, BLOCK]), acc_hi, True, ASM)
        acc_lo = _dp4a(w, tl.broadcast_to(lo[None, :], [ROWS, BLOCK]), acc_lo, False, ASM)
    q = tl.sum(acc_hi, 1).to(tl.float32) * 256.0 + tl.sum(acc_lo, 1).to(tl.float32)
    tl.store(Y + rn, (q * tl.load(S + rn, mask=n_ok, other=0.0) * sx).to(Y.dtype.element_ty), mask=n_ok)


class NoMaxPass:
    "`row_scale_kernel` without its pass, launched the way `int8_row_mm` launches whatever `_int8_row_kernel` is."
    def __getitem__(self, grid): return lambda *a, **kw: row_scale_kernel[grid](*a, MAX_PASS=False, **kw)


def check(kernel):
    "Relative error against float64 of `kernel` in `int8_row_mm` on the 8B's matrices (rows with outliers), and of 05c's kernel."
    from gpu_timing import LLAMA_8B, rel_err
    out, orig = {}, qk._int8_row_kernel
    for name, (n, k) in LLAMA_8B.items():
        torch.manual_seed(0)
        x = torch.randn(1, k, device='cuda').to(torch.bfloat16); x[0, ::97] *= 40; x[0, 5::89] /= 1000
        w = torch.randint(-127, 128, (n, k), dtype=torch.int8, device='cuda'); s = torch.rand(n, device='cuda') / 100
        want = x.double() @ (w.double() * s.double()[:, None]).T
        got_old = qk.int8_row_mm(x, w, s)
        qk._int8_row_kernel = kernel
        try: got = qk.int8_row_mm(x, w, s)
        finally: qk._int8_row_kernel = orig
        out[name] = {'rel_err': rel_err(got, want), 'rel_err 05c': rel_err(got_old, want)}
    return out


R = open_bracket()
record_step(R, 'int8', quantization='int8')
R['check one scale a row'] = check(row_scale_kernel); print(R['check one scale a row'], flush=True)
patched_steps(R, qk, '_int8_row_kernel', {'int8 one scale a row': row_scale_kernel,
                                          'int8 one scale a row, without the max pass': NoMaxPass()}, quantization='int8')
close_bracket(R, 'int8', 'int8-scales.json', quantization='int8')
