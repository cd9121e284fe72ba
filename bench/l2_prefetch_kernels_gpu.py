"""Issue 16: warm L2 with o's int8 weights before a gap (attention's stand-in); does o's product then read faster?

Six prefetch forms (`cp.async.bulk.prefetch.L2` in spans of 4-128 KB from few or many programs, `prefetch.global.L2` a
line at a time), each in a CUDA graph over 38 weight copies (none in L2 otherwise): the prefetch alone, prefetch then
a 6 µs `torch.cuda._sleep` then the product, and the prefetch forked onto a side stream beside the gap.
Answer on an H200: no. The product after a prefetch and a gap takes as long as without (05c, "One row").

    python bench/l2_prefetch_kernels_gpu.py   # writes $OUT/l2-prefetch-kernels.json and bench/results/l2-prefetch-kernels-h200.json
"""
import json, os, sys
from pathlib import Path
import torch, triton
import triton.language as tl
sys.path.insert(0, str(Path(__file__).resolve().parent.parent)); sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_timing import graph_ms, LLAMA_8B, int8_copies
from nano_serve.quant_kernels import weight_only_mm


@triton.jit
def _bulk(P, NBYTES, CHUNK: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    off = i.to(tl.int64) * CHUNK
    size = tl.minimum(NBYTES - off, CHUNK).to(tl.int32)
    tl.inline_asm_elementwise("{ .reg .pred p; setp.gt.s32 p, $2, 0; @p cp.async.bulk.prefetch.L2.global [$1], $2; mov.u32 $0, 0; }",
                              "=r,l,r", [P + off, size], dtype=tl.int32, is_pure=False, pack=1)


@triton.jit
def _line(P, NBYTES, LINE: tl.constexpr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    off = i.to(tl.int64) * LINE
    ok = (off < NBYTES).to(tl.int32)
    tl.inline_asm_elementwise("{ .reg .pred p; setp.ne.s32 p, $2, 0; @p prefetch.global.L2::evict_last [$1]; mov.u32 $0, 0; }",
                              "=r,l,r", [P + off, ok], dtype=tl.int32, is_pure=False, pack=1)


def bulk(w, chunk, block, warps):
    n = w.numel()
    return _bulk[(triton.cdiv(triton.cdiv(n, chunk), block),)](w, n, CHUNK=chunk, BLOCK=block, num_warps=warps)


def line(w, line_bytes=128, block=1024, warps=4):
    n = w.numel()
    return _line[(triton.cdiv(triton.cdiv(n, line_bytes), block),)](w, n, LINE=line_bytes, BLOCK=block, num_warps=warps)


FORMS = {'bulk32k_x128': lambda w: bulk(w, 32768, 128, 4), 'bulk128k_1thr': lambda w: bulk(w, 131072, 1, 1),
         'bulk16k_32thr': lambda w: bulk(w, 16384, 32, 1), 'bulk4k_32thr': lambda w: bulk(w, 4096, 32, 1),
         'line128': lambda w: line(w), 'line256': lambda w: line(w, 256)}

n, k = LLAMA_8B['o']
ws = int8_copies(n, k, 600)
s = torch.rand(n, device='cuda') / 100
x = torch.randn(1, k, device='cuda', dtype=torch.bfloat16)
GAP = 12000
side = torch.cuda.Stream()
R = {'copies': len(ws), 'gap_only': graph_ms([lambda: torch.cuda._sleep(GAP) for _ in ws]) * 1e3,
     'mm_only': graph_ms([lambda w=w: weight_only_mm(x, w, s) for w in ws]) * 1e3,
     'gap_mm': graph_ms([lambda w=w: (torch.cuda._sleep(GAP), weight_only_mm(x, w, s)) for w in ws]) * 1e3}
print(json.dumps(R), flush=True)


def forked(pf, w, join_before_mm):
    "Prefetch on a side stream beside the gap; the mm waits for it (join) or not (join at the end)."
    cur = torch.cuda.current_stream()
    side.wait_stream(cur)
    with torch.cuda.stream(side): pf(w)
    torch.cuda._sleep(GAP)
    if join_before_mm: cur.wait_stream(side)
    weight_only_mm(x, w, s)
    if not join_before_mm: cur.wait_stream(side)


for name, pf in FORMS.items():
    try:
        ck = pf(ws[0]); torch.cuda.synchronize()
        r = {'ptx_ok': 'prefetch' in ck.asm['ptx'],
             'pf_only': graph_ms([lambda w=w: pf(w) for w in ws]) * 1e3,
             'pf_gap_mm': graph_ms([lambda w=w: (pf(w), torch.cuda._sleep(GAP), weight_only_mm(x, w, s)) for w in ws]) * 1e3,
             'pf_mm': graph_ms([lambda w=w: (pf(w), weight_only_mm(x, w, s)) for w in ws]) * 1e3,
             'fork_join_mm': graph_ms([lambda w=w: forked(pf, w, True) for w in ws]) * 1e3,
             'fork_join_end': graph_ms([lambda w=w: forked(pf, w, False) for w in ws]) * 1e3}
    except Exception as e: r = {'error': repr(e)[:300]}
    R[name] = r
    print(name, json.dumps(r), flush=True)
if os.environ.get('OUT'): Path(os.environ['OUT'], 'l2-prefetch-kernels.json').write_text(json.dumps(R, indent=1))
Path(__file__).resolve().parent.joinpath('results', 'l2-prefetch-kernels-h200.json').write_text(json.dumps(R, indent=1))
