"""Issue 13: 00a's `pool_attention` alone, this tree's against another tree's, in turns: `--requests` requests of `--context`
tokens, the bundled model's heads (9 queries, 3 K/V heads of 64 floats), 30 calls (one per layer of a step) a round.

    python bench/cpu_attention_alone.py --code TREE [--context 320] [--rounds 3] [--lens even|spread|shuffled] [--requests 16]

--lens: every request `--context` tokens less its index (even, the default); spread linearly from `--context` down to
an eighth of it, longest first, as a server's batch holds its oldest requests first (spread); the same lengths in a
random order (shuffled).
"""
import argparse, time
from pathlib import Path
ap = argparse.ArgumentParser()
ap.add_argument('--code', required=True, help='the other tree of nano_serve')
ap.add_argument('--context', type=int, default=320)
ap.add_argument('--rounds', type=int, default=3)
ap.add_argument('--requests', type=int, default=16)
ap.add_argument('--lens', default='even', choices=['even', 'spread', 'shuffled'])
A = ap.parse_args()
import torch
import nano_serve.cpu_kernels as ck

def kernels(tree: str | None):
    "The kernels built from a tree's SOURCE (this repository's when None), in a scratch cache."
    here = ck.SOURCE
    if tree: ck.SOURCE = Path(tree, 'nano_serve', 'cpu_kernels.py').read_text().split("SOURCE = r'''")[1].split("'''")[0]
    try: return ck.build_cpu_kernels(folder=Path('/tmp/nano-serve-attention-alone'))
    finally: ck.SOURCE = here

builds = {'this tree': kernels(None), A.code: kernels(A.code)}
torch.manual_seed(0)
D, H, kvh, d, bs, n = A.requests, 9, 3, 64, 16, A.context
per = n // bs + 2
blocks = D * per + 64
pool = torch.randn(2 * blocks * bs, kvh * d)   # keys in the first half of the rows, values in the second
order = torch.randperm(blocks)
rows = torch.stack([torch.cat([order[i * per + j] * bs + torch.arange(bs) for j in range(per)])[:n + 8] for i in range(D)])
lens = n - torch.arange(D)
if A.lens != 'even': lens = torch.linspace(n, n // 8, D).long()
if A.lens == 'shuffled': lens = lens[torch.randperm(D)]
print('lengths', lens.tolist())
qs = [torch.randn(D, H, d) for _ in range(30)]
want = None
for r in range(A.rounds):
    for name, k in builds.items():
        for q in qs: k.pool_attention(q, pool, rows, lens, 0, blocks * bs)   # warm-up: the threads started, the pool touched
        t = time.perf_counter()
        for q in qs: out = k.pool_attention(q, pool, rows, lens, 0, blocks * bs)
        ms = (time.perf_counter() - t) * 1e3
        want = out if want is None else want
        print(f'round {r}: {name}: {ms:.2f} ms for 30 calls, largest difference from the first {(out - want).abs().max().item():.1e}', flush=True)
