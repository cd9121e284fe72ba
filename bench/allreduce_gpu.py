"""Small all-reduces on one host's GPUs: NCCL against the one-shot symmetric-memory kernel (`nano_serve.parallel`).

    python bench/allreduce_gpu.py [--tp 2,4] [--out DIR]

For each group size, one process per GPU, bf16 messages of 4 KiB to 8 MiB (decode at batch 1 of an 8B model sends
8 KiB per collective, a 70B model 16 KiB): first the one-shot sum is checked against NCCL's for every size, then both
are timed as a step would run them, 32 collectives captured in one CUDA graph and replayed (and eagerly, for the
record). NVLink multicast stays off. Results: DIR/allreduce-gpu.json.
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
    import torch, torch.distributed as dist
    from nano_serve.parallel import small_all_reduce
    torch.cuda.set_device(rank)
    dist.init_process_group('nccl', init_method=address, rank=rank, world_size=size)
    dev = torch.device('cuda', rank)
    small = small_all_reduce(dist.group.WORLD, dev, max_bytes=SIZES[-1])
    rows, n_graph = [], 32
    for nbytes in SIZES:
        g = torch.Generator(device=dev).manual_seed(rank)
        x = torch.randn(nbytes // 2, dtype=torch.bfloat16, device=dev, generator=g)
        ref = x.clone(); dist.all_reduce(ref)
        row = {'bytes': nbytes}
        if small is not None:
            got = small(x)
            row['max_abs_diff'] = (got.float() - ref.float()).abs().max().item()
            row['same_on_all_ranks'] = None
            chk = got.float().sum().reshape(1); allsum = chk.clone(); dist.all_reduce(allsum)
            row['same_on_all_ranks'] = abs(allsum.item() - size * chk.item()) <= 1e-3 * abs(allsum.item()) + 1e-3
        ways = {'nccl': lambda: dist.all_reduce(x)}
        if small is not None: ways['one_shot'] = lambda: small(x)
        for name, fn in ways.items():
            row[f'{name}_eager_us'] = timed(fn, 50)
            torch.cuda.synchronize(); dist.barrier()
            graph = torch.cuda.CUDAGraph()
            s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                fn()  # warm-up on the capture stream
                torch.cuda.synchronize()
                with torch.cuda.graph(graph, stream=s):
                    for _ in range(n_graph): fn()
            torch.cuda.synchronize(); dist.barrier()
            row[f'{name}_graph_us'] = timed(graph.replay, 10) / n_graph
            del graph
        rows.append(row)
        if rank == 0: print(row, flush=True)
    if rank == 0:
        Path(out).write_text(json.dumps({'tp': size, 'gpu': torch.cuda.get_device_name(), 'one_shot': repr(small),
                                         'rows': rows}, indent=1))
    dist.barrier()
    dist.destroy_process_group()


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
