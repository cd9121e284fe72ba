"""Small all-reduces on one host's GPUs: NCCL, PyTorch's one-shot symmetric-memory kernel and our push kernel (`nano_serve.parallel`).

    python bench/allreduce_gpu.py [--tp 2,4] [--out DIR]

For each group size, one process per GPU, bf16 messages of 4 KiB to 8 MiB (decode at batch 1 of an 8B model sends
8 KiB per collective, a 70B model 16 KiB). First 400 push calls of changing sizes, every one checked against NCCL's
sum (half of them fused with a residual add and RMSNorm, checked against PyTorch's); then every size, each way's sum
checked against NCCL's and timed as a step runs them (32 collectives captured in one CUDA graph and replayed); then
the sum followed by the next norm, fused (push) against the all-reduce and the norm kernel; then 64 push calls
captured in a graph and replayed 20 times (the slots must stay right). NVLink multicast stays off.
Results: DIR/allreduce-gpu.json.
"""
import argparse, json, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for k, v in {'NCCL_NVLS_ENABLE': '0', 'TORCH_SYMM_MEM_DISABLE_MULTICAST': '1', 'NVSHMEM_DISABLE_NVLS': '1'}.items():
    os.environ.setdefault(k, v)
SIZES = [4 << 10, 8 << 10, 16 << 10, 64 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20]


def timed(fn, reps: int) -> float:
    "Microseconds per call of `fn` (which runs on the current stream), after a warm-up."
    import torch
    fn(); torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(reps): fn()
    b.record(); torch.cuda.synchronize()
    return a.elapsed_time(b) * 1e3 / reps


def worker(rank: int, size: int, address: str, out: str):
    import random
    import torch, torch.distributed as dist, torch.nn.functional as F
    from nano_serve.parallel import small_all_reduce
    torch.cuda.set_device(rank)
    dist.init_process_group('nccl', init_method=address, rank=rank, world_size=size)
    dev = torch.device('cuda', rank)
    one_shot = small_all_reduce(dist.group.WORLD, dev, 'one-shot', max_bytes=SIZES[-1])
    push = small_all_reduce(dist.group.WORLD, dev, 'push', max_bytes=SIZES[-1])
    def same(t) -> bool:
        "Whether every rank got the same sum (their checksums' total is `size` times this rank's)."
        c = t.float().sum().reshape(1); a = c.clone(); dist.all_reduce(a)
        return abs(a.item() - size * c.item()) <= 1e-3 * abs(a.item()) + 1e-3
    rows, n_graph, res = [], 32, {}
    # 1. push under changing sizes, eagerly: every call checked against NCCL's sum (the slots and the empty marks)
    g, bad, fused_err = random.Random(0), 0, 0.0
    for i in range(400):
        m, h = g.choice([1, 1, 2, 3, 8, 17, 64, 128]), g.choice([4096, 4096, 8192])
        if m * h * 2 > SIZES[-1]: continue
        x = torch.randn(m, h, dtype=torch.bfloat16, device=dev); ref = x.clone(); dist.all_reduce(ref)
        if i % 2: bad += not torch.equal(push(x), ref) if size == 2 else (push(x).float() - ref.float()).abs().max().item() > 0.07
        else:
            r, w = torch.randn(m, h, dtype=torch.bfloat16, device=dev), torch.rand(h, device=dev)
            y, s = push.add_norm(x, r, w, 1e-5)
            fused_err = max(fused_err, (y.float() - F.rms_norm((ref + r).float(), (h,), w, 1e-5)).abs().max().item())
            bad += (s.float() - (ref + r).float()).abs().max().item() > (0 if size == 2 else 0.07)
    res['push_checked'] = {'calls': 400, 'wrong': bad, 'fused_norm_max_abs_diff': fused_err}
    if rank == 0: print(res['push_checked'], flush=True)
    for nbytes in SIZES:
        x = torch.randn(nbytes // 2, dtype=torch.bfloat16, device=dev, generator=torch.Generator(device=dev).manual_seed(rank))
        x2 = x.view(-1, 4096) if x.numel() >= 4096 else x.view(1, -1)
        ref = x.clone(); dist.all_reduce(ref)
        row = {'bytes': nbytes}
        for name, k in (('one_shot', one_shot), ('push', push)):
            if k is None or not k.fits(x2): continue
            got = k(x2).view(-1)
            row[f'{name}_max_abs_diff'] = (got.float() - ref.float()).abs().max().item()
            row[f'{name}_same_on_all_ranks'] = same(got)
        ways = {'nccl': lambda: dist.all_reduce(x)}
        if one_shot is not None: ways['one_shot'] = lambda: one_shot(x)
        if push is not None and push.fits(x2): ways['push'] = lambda: push(x2)
        for name, fn in ways.items(): row[f'{name}_graph_us'] = graph_us(fn, n_graph)
        rows.append(row)
        if rank == 0: print(row, flush=True)
    # 2. the sum and the next norm: one fused kernel against an all-reduce followed by the norm kernel
    fused = []
    for m, h in ((1, 4096), (8, 4096), (64, 4096), (128, 4096), (1, 8192), (64, 8192)):
        x, r, w = (torch.randn(m, h, dtype=torch.bfloat16, device=dev), torch.randn(m, h, dtype=torch.bfloat16, device=dev),
                   torch.rand(h, device=dev))
        norm = lambda s: (F.rms_norm((s + r).float(), (h,), w, 1e-5).to(s.dtype), s + r)
        row = {'rows': m, 'hidden': h,
               'nccl_then_norm_us': graph_us(lambda: norm((lambda y: (dist.all_reduce(y), y)[1])(x.clone())), n_graph),
               'one_shot_then_norm_us': graph_us(lambda: norm(one_shot(x)), n_graph) if one_shot else None,
               'push_fused_us': graph_us(lambda: push.add_norm(x, r, w, 1e-5), n_graph) if push and push.fits(x) else None}
        fused.append(row)
        if rank == 0: print(row, flush=True)
    # 3. replayed graphs keep the slots right: 64 captured calls, replayed 20 times, the last output checked
    x = torch.randn(1, 4096, dtype=torch.bfloat16, device=dev); ref = x.clone(); dist.all_reduce(ref)
    outs = []
    graph = capture(lambda: outs.append(push(x)), 64) if push else None   # outs[1:]: the graph's own outputs
    if graph:
        for _ in range(20): graph.replay()
        torch.cuda.synchronize()
        res['graph_replays_right'] = all(torch.equal(o, ref) for o in outs[1:]) if size == 2 else None
    if rank == 0:
        Path(out).write_text(json.dumps({'tp': size, 'gpu': torch.cuda.get_device_name(), 'one_shot': repr(one_shot),
                                         'push': repr(push), **res, 'rows': rows, 'fused': fused}, indent=1))
    dist.barrier()
    dist.destroy_process_group()


def capture(fn, n: int):
    "A CUDA graph of `n` calls of `fn`, after a warm-up call on the capture stream (every rank must capture alike)."
    import torch, torch.distributed as dist
    torch.cuda.synchronize(); dist.barrier()
    graph, s = torch.cuda.CUDAGraph(), torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        fn(); torch.cuda.synchronize()
        with torch.cuda.graph(graph, stream=s):
            for _ in range(n): fn()
    torch.cuda.synchronize(); dist.barrier()
    return graph


def graph_us(fn, n: int) -> float:
    "Microseconds per call of `fn`, `n` calls captured in one CUDA graph and replayed (as a decode step runs them)."
    graph = capture(fn, n)
    us = timed(graph.replay, 10) / n
    del graph
    return us


def main():
    import torch
    p = argparse.ArgumentParser()
    p.add_argument('--tp', default='2,4'); p.add_argument('--out', default=os.environ.get('OUT', '/tmp/out'))
    a = p.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    res = []
    for size in [int(t) for t in a.tp.split(',') if int(t) <= torch.cuda.device_count()]:
        f = Path(a.out) / f'_allreduce-{size}.json'
        t0 = time.time()
        torch.multiprocessing.start_processes(worker, args=(size, f'tcp://127.0.0.1:{29500 + size}', str(f)), nprocs=size,
                                              start_method='spawn')
        res.append(json.loads(f.read_text()) | {'wall_s': time.time() - t0}); f.unlink()
    (Path(a.out) / 'allreduce-gpu.json').write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
