"""Issues 16 and 12: a one-row product in inductor's shape, for 8-bit and 16-bit weights, swept, then in batch-1 decode.

`bench/int8_inductor_gpu.py` found that inductor's reduction (2 weight rows a program, all of K in one load, 16 warps)
beats 05c's tensor-core tile at one row, and that swapping it in sped bf16 decode up more than int8. Here the same
kernel, written plainly, is swept per llama-3.1-8b matrix and weight dtype; the best per matrix then runs batch-1
decode for bf16 and int8, every baseline in the same run. (The committed sweeps ran a copy of the kernel that skipped
the unit scales of 16-bit weights; it now runs 05c's own, which multiplies by them: 16 KB more read for a 4096-row matrix.
Since then int8 at one row ships as 05c's integer product, `int8_row_mm`: the decode rows "int8" here now mean that, and
the committed results predate it; `bench/w8a8_gpu.py` compares the two kernels.)

    python bench/one_row_gpu.py [int8] [wide] [small]   # int8: the int8 matrices only; wide: more rows, shorter K steps;
                                                        # small: qwen3-0.6b's and a TP=2 rank's matrices (wide and small: no decode)
    # writes $OUT/one-row-h200[-int8][-wide][-small].json and the same in bench/results/
"""
import gc, itertools, json, os, sys, time, traceback
from pathlib import Path
import torch, triton
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B, rel_err, bs1_run
from nano_serve.quant_kernels import weight_only_mm, weight_only_tiles, gemv_tiles, _one_row_kernel


def one_row(x, w, s, t):
    "05c's one-row kernel with the sweep's tiles `t` (its `VIA_BF16` among them); unit scales `s` for 16-bit weights."
    n, k = w.shape
    y = torch.empty(1, n, dtype=x.dtype, device=x.device)
    _one_row_kernel[(triton.cdiv(n, t['ROWS']),)](x, w, s, y, n, k, w.stride(0), **{'VIA_BF16': False, **t})
    return y


def copies(n, k, dtype, mb=600):
    "Weight copies enough that a graph over them reads `mb` MB (none from L2)."
    count = max(2, -(-mb * 2**20 // (n * k * dtype.itemsize)))
    if dtype == torch.int8: return [torch.randint(-127, 128, (n, k), dtype=dtype, device='cuda') for _ in range(count)]
    return [torch.randn(n, k, dtype=dtype, device='cuda') / 64 for _ in range(count)]


R = {'gpu': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'triton': triton.__version__, 'date': time.strftime('%Y-%m-%d'), 'sweep': {}}
BEST = {}
SHAPES = {name: LLAMA_8B[name] for name in ('o', 'qkv', 'down', 'gate_up', 'head')}
if 'small' in sys.argv:   # qwen3-0.6b's matrices, and one rank's share of llama-3.1-8b's under two-way tensor parallelism
    SHAPES = {'qwen3 qkv': (4096, 1024), 'qwen3 o': (1024, 2048), 'qwen3 gate_up': (6144, 1024), 'qwen3 down': (1024, 3072),
              'tp2 qkv': (3072, 4096), 'tp2 o': (4096, 2048), 'tp2 gate_up': (14336, 4096), 'tp2 down': (4096, 7168)}
SWEEP = [(torch.int8, n) for n in SHAPES] + ([] if 'int8' in sys.argv else [(torch.bfloat16, n) for n in SHAPES])
for dtype, name in SWEEP:
    n, k = SHAPES[name]
    ws = copies(n, k, dtype)
    s = torch.rand(n, device='cuda') / 100 if dtype == torch.int8 else torch.ones(n, device='cuda')
    x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16)
    want = x.float() @ (ws[0].float() * s[:, None]).t()
    tiles = weight_only_tiles(1, n, k) if dtype == torch.int8 else gemv_tiles(k, n)
    res = {'05c': graph_ms([lambda w=w: weight_only_mm(x, w, s, tiles) for w in ws]) * 1e3, 'MB': n * k * dtype.itemsize / 1e6}
    best = (res['05c'], None)
    grid = itertools.product((1, 2, 4), (1024, 2048, 4096), (4, 8, 16), (1, 2), (False, True))
    if 'wide' in sys.argv: grid = itertools.product((2, 4, 8, 16), (256, 512, 1024), (2, 4), (2, 3), (False, True))   # the second sweep
    if 'small' in sys.argv: grid = itertools.product((1, 2, 4, 8), (256, 512, 1024), (2, 4), (2,), (False, True))
    for rows, bk, warps, stages, via in grid:
        if bk > k or (via and dtype != torch.int8): continue
        t = dict(ROWS=rows, BLOCK_K=bk, num_warps=warps, num_stages=stages, VIA_BF16=via)
        key = f'rows{rows} k{bk} w{warps} s{stages}' + (' via bf16' if via else '')
        try:
            err = rel_err(one_row(x, ws[0], s, t), want)
            if err > 2e-2: res[key] = {'error': f'rel err {err:.3g}'}; continue
            us = graph_ms([lambda w=w: one_row(x, w, s, t) for w in ws]) * 1e3
            res[key] = round(us, 2)
            if us < best[0]: best = (us, t)
        except Exception as e: res[key] = {'error': repr(e)[:200]}
    res['best'] = {'us': best[0], 'tiles': best[1], 'TBps': res['MB'] / best[0], 'vs_05c': res['05c'] / best[0]}
    BEST[(str(dtype), n, k)] = best[1]
    R['sweep'][f'{name} {str(dtype)[6:]}'] = res
    print(name, dtype, '05c', round(res['05c'], 2), 'best', json.dumps(res['best']), flush=True)
    del ws; gc.collect(); torch.cuda.empty_cache()


def patch(on: bool):
    "One-row products by the swept kernel (each matrix its best tiles, or 05c where 05c won); returns an undo."
    from nano_serve.quantization import Int8WeightLinear
    from nano_serve.quant_kernels import SmallBatchLinear
    i8, b16 = Int8WeightLinear.forward, SmallBatchLinear.forward
    def int8_forward(self, x):
        t = BEST.get((str(torch.int8), self.out_features, self.in_features))
        if x.numel() != self.in_features or t is None or self.bias is not None: return i8(self, x)
        return one_row(x.reshape(1, -1), self.qweight, self.scale, t).reshape(*x.shape[:-1], self.out_features)
    def bf16_forward(self, x):
        t = BEST.get((str(self.weight.dtype), self.out_features, self.in_features))
        if x.numel() != self.in_features or t is None or self.bias is not None: return b16(self, x)
        return one_row(x.reshape(1, -1), self.weight, self.ones, t).reshape(*x.shape[:-1], self.out_features)
    if on: Int8WeightLinear.forward, SmallBatchLinear.forward = int8_forward, bf16_forward
    def undo(): Int8WeightLinear.forward, SmallBatchLinear.forward = i8, b16
    return undo




def save():
    "The results so far, to $OUT and bench/results, named by the options given."
    name = '-'.join(['one-row-h200'] + [a for a in ('int8', 'wide', 'small') if a in sys.argv]) + '.json'
    for d in (os.environ.get('OUT'), Path(__file__).resolve().parent / 'results'):
        if d: Path(d, name).write_text(json.dumps(R, indent=1))


if 'wide' in sys.argv or 'small' in sys.argv: save(); sys.exit()   # a sweep only
R['decode_bs1_8b'] = out = {}
RUNS = [('bf16', None, False), ('int8', 'int8', False), ('bf16 one-row', None, True), ('int8 one-row', 'int8', True),
        ('bf16 again', None, False), ('int8 again', 'int8', False), ('bf16 one-row again', None, True), ('int8 one-row again', 'int8', True)]
for key, q, on in [r for r in RUNS if 'int8' not in sys.argv or not r[0].startswith('bf16 one-row')]:
    t0 = time.perf_counter()
    try: out[key] = bs1_run(patch(on), quantization=q)   # llama-3.1-8b
    except Exception as e: traceback.print_exc(); out[key] = {'error': repr(e)[:500]}
    out[key]['seconds'] = round(time.perf_counter() - t0, 1)
    print(key, json.dumps(out[key]), flush=True)
mean = lambda *ks: sum(out[k]['tok_s'] for k in ks) / len(ks)
try:
    out['ratios'] = {'int8 / bf16, as shipped': mean('int8', 'int8 again') / mean('bf16', 'bf16 again'),
                     'int8 one-row / int8': mean('int8 one-row', 'int8 one-row again') / mean('int8', 'int8 again')}
    if 'int8' not in sys.argv:
        out['ratios'].update({'int8 / bf16, both one-row': mean('int8 one-row', 'int8 one-row again') / mean('bf16 one-row', 'bf16 one-row again'),
                              'bf16 one-row / bf16': mean('bf16 one-row', 'bf16 one-row again') / mean('bf16', 'bf16 again')})
except Exception: traceback.print_exc()
print('ratios', json.dumps(out.get('ratios')), flush=True)
save()
