# %% auto #0
__all__ = ['ModelInputs', 'prepare_inputs', 'ModelRunner', 'graph_batch_sizes', 'CUDAGraphDecoder', 'ModelInputs', 'prepare_inputs', 'ModelRunner', 'graph_batch_sizes', 'CUDAGraphDecoder', 'ModelInputs', 'prepare_inputs', 'ModelRunner', 'graph_batch_sizes', 'CUDAGraphDecoder', 'ModelInputs', 'prepare_inputs', 'ModelRunner', 'graph_batch_sizes', 'CUDAGraphDecoder', 'ModelInputs', 'prepare_inputs', 'ModelRunner', 'graph_batch_sizes', 'CUDAGraphDecoder']

# %% ../nbs/06_engine.ipynb #c99a67ac
import itertools, time
from dataclasses import dataclass

import torch

from .cache import KVCache, AttentionMetadata, PagedAttention
from .scheduler import Chunk, ScheduledBatch
from .preemption import copy_blocks
from .sampler import Sampler, StepResult

# %% ../nbs/06_engine.ipynb #0376d17f
@dataclass
class ModelInputs:
    "The flat tensors of one step."
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    logits_rows: torch.Tensor     # rows of the last token of each sampling chunk (and of its drafted tokens)

def prepare_inputs(chunks: list[Chunk], block_size: int, device) -> ModelInputs:
    "Flatten a batch's chunks into model inputs."
    ids = [t for c in chunks for t in c.token_ids]
    pos = [p for c in chunks for p in range(c.start, c.start + len(c.token_ids))]
    meta = AttentionMetadata.build([c.block_table for c in chunks], [c.start for c in chunks],
                                   [c.start + len(c.token_ids) for c in chunks], block_size, device)
    ends = list(itertools.accumulate(len(c.token_ids) for c in chunks))
    rows = [r for e, c in zip(ends, chunks) if c.sample for r in range(e - 1 - len(c.draft), e)]   # drafts: every position
    as_long = lambda x: torch.tensor(x, dtype=torch.long, device=device)
    return ModelInputs(as_long(ids), as_long(pos), meta, as_long(rows))

# %% ../nbs/06_engine.ipynb #f898d1d9
class ModelRunner:
    "Runs the model over a scheduled batch on its KV cache (and swap pool) and samples."
    def __init__(self, model, cache: KVCache, sampler: Sampler, attend=None, swap_cache: KVCache | None = None, graphs=None):
        self.model, self.cache, self.sampler, self.swap_cache, self.graphs = model, cache, sampler, swap_cache, graphs
        self.device = model.device
        self.attend = attend   # None: the PyTorch reference attention of 01_cache

    @torch.inference_mode()
    def execute(self, batch: ScheduledBatch) -> StepResult:
        "Do the step's swaps (out first, so freed blocks can be reused), compute its tokens, and sample."
        t0 = time.perf_counter()
        copy_blocks(self.cache, self.swap_cache, batch.swap_out)
        copy_blocks(self.swap_cache, self.cache, batch.swap_in)
        if not batch.chunks: return StepResult(forward_seconds=time.perf_counter() - t0)
        x = prepare_inputs(batch.chunks, self.cache.block_size, self.device)
        if self.graphs is not None and self.graphs.fits(x): logits = self.graphs.run(x)
        else:
            attn = PagedAttention(self.cache, x.meta, self.attend) if self.attend else PagedAttention(self.cache, x.meta)
            hidden = self.model(x.input_ids, x.positions, attn)
            logits = self.model.compute_logits(hidden[x.logits_rows])
        t1 = time.perf_counter()
        res = self.sampler(logits, [c for c in batch.chunks if c.sample])
        res.forward_seconds, res.sample_seconds = t1 - t0, time.perf_counter() - t1
        return res

# %% ../nbs/06_engine.ipynb #40c69ba1
def graph_batch_sizes(max_batch: int) -> list[int]:
    "Batch-size buckets to capture: 1, 2, 4, 8, then multiples of 16 up to `max_batch`."
    return [b for b in (1, 2, 4, 8) if b <= max_batch] + list(range(16, max_batch + 1, 16))

class CUDAGraphDecoder:
    "Decode steps captured as CUDA graphs per batch-size bucket, replayed with padding."
    def __init__(self, model, cache: KVCache, attend, max_batch: int, max_blocks: int, scratch_block: int):
        dev, self.model, self.cache, self.attend = cache.data.device, model, cache, attend
        self.sizes, self.scratch = graph_batch_sizes(max_batch), scratch_block
        n = self.sizes[-1]
        self.ids, self.pos = torch.zeros(n, dtype=torch.long, device=dev), torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), scratch_block * cache.block_size, dtype=torch.long, device=dev)
        self.tables = torch.full((n, max_blocks), scratch_block, dtype=torch.int32, device=dev)
        self.lens = torch.ones(n, dtype=torch.int32, device=dev)
        self.qloc = torch.arange(n + 1, dtype=torch.int32, device=dev)
        self.graphs, self.pool = {}, None
        for bs in reversed(self.sizes): self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(self.slots[:bs], self.tables[:bs], self.lens[:bs], self.qloc[:bs + 1], None, None)

    def _forward(self, bs: int) -> torch.Tensor:
        return self.model.compute_logits(self.model(self.ids[:bs], self.pos[:bs], PagedAttention(self.cache, self._meta(bs), self.attend)))

    @torch.inference_mode()
    def _capture(self, bs: int):
        "Warm up on a side stream (as CUDA requires), then record one decode step of `bs` rows."
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2): self._forward(bs)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool): out = self._forward(bs)
        self.pool = g.pool()
        self.graphs[bs] = (g, out)

    def fits(self, x: 'ModelInputs') -> bool:
        "Whether a step can replay a graph: one token per request, every row sampled, within the largest bucket."
        n = x.input_ids.shape[0]
        return n <= self.sizes[-1] and x.meta.block_tables.shape[0] == n and x.logits_rows.shape[0] == n \
            and x.meta.block_tables.shape[1] <= self.tables.shape[1]

    def run(self, x: 'ModelInputs') -> torch.Tensor:
        "Copy the step's inputs into the static buffers (padding to the bucket), replay, return the real rows' logits."
        n = x.input_ids.shape[0]
        bs = next(b for b in self.sizes if b >= n)
        self.ids[:n].copy_(x.input_ids); self.pos[:n].copy_(x.positions); self.slots[:n].copy_(x.meta.slot_mapping)
        w = x.meta.block_tables.shape[1]
        self.tables[:n, :w].copy_(x.meta.block_tables); self.lens[:n].copy_(x.meta.context_lens)
        self.slots[n:bs].fill_(self.scratch * self.cache.block_size); self.tables[n:bs, 0] = self.scratch; self.lens[n:bs] = 1
        g, out = self.graphs[bs]
        g.replay()
        return out[:n]

# %% ../nbs/06_engine.ipynb #c99a67ac
import itertools, time
from dataclasses import dataclass

import torch

from .cache import KVCache, AttentionMetadata, PagedAttention
from .scheduler import Chunk, ScheduledBatch
from .preemption import copy_blocks
from .sampler import Sampler, StepResult

# %% ../nbs/06_engine.ipynb #0376d17f
@dataclass
class ModelInputs:
    "The flat tensors of one step."
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    logits_rows: torch.Tensor     # rows of the last token of each sampling chunk (and of its drafted tokens)

def prepare_inputs(chunks: list[Chunk], block_size: int, device) -> ModelInputs:
    "Flatten a batch's chunks into model inputs."
    ids = [t for c in chunks for t in c.token_ids]
    pos = [p for c in chunks for p in range(c.start, c.start + len(c.token_ids))]
    meta = AttentionMetadata.build([c.block_table for c in chunks], [c.start for c in chunks],
                                   [c.start + len(c.token_ids) for c in chunks], block_size, device)
    ends = list(itertools.accumulate(len(c.token_ids) for c in chunks))
    rows = [r for e, c in zip(ends, chunks) if c.sample for r in range(e - 1 - len(c.draft), e)]   # drafts: every position
    as_long = lambda x: torch.tensor(x, dtype=torch.long, device=device)
    return ModelInputs(as_long(ids), as_long(pos), meta, as_long(rows))

# %% ../nbs/06_engine.ipynb #f898d1d9
class ModelRunner:
    "Runs the model over a scheduled batch on its KV cache (and swap pool) and samples."
    def __init__(self, model, cache: KVCache, sampler: Sampler, attend=None, swap_cache: KVCache | None = None, graphs=None):
        self.model, self.cache, self.sampler, self.swap_cache, self.graphs = model, cache, sampler, swap_cache, graphs
        self.device = model.device
        self.attend = attend   # None: the PyTorch reference attention of 01_cache

    @torch.inference_mode()
    def execute(self, batch: ScheduledBatch) -> StepResult:
        "Do the step's swaps (out first, so freed blocks can be reused), compute its tokens, and sample."
        t0 = time.perf_counter()
        copy_blocks(self.cache, self.swap_cache, batch.swap_out)
        copy_blocks(self.swap_cache, self.cache, batch.swap_in)
        if not batch.chunks: return StepResult(forward_seconds=time.perf_counter() - t0)
        x = prepare_inputs(batch.chunks, self.cache.block_size, self.device)
        if self.graphs is not None and self.graphs.fits(x): logits = self.graphs.run(x)
        else:
            attn = PagedAttention(self.cache, x.meta, self.attend) if self.attend else PagedAttention(self.cache, x.meta)
            hidden = self.model(x.input_ids, x.positions, attn)
            logits = self.model.compute_logits(hidden[x.logits_rows])
        t1 = time.perf_counter()
        res = self.sampler(logits, [c for c in batch.chunks if c.sample])
        res.forward_seconds, res.sample_seconds = t1 - t0, time.perf_counter() - t1
        return res

# %% ../nbs/06_engine.ipynb #40c69ba1
def graph_batch_sizes(max_batch: int) -> list[int]:
    "Batch-size buckets to capture: 1, 2, 4, 8, then multiples of 16 up to `max_batch`."
    return [b for b in (1, 2, 4, 8) if b <= max_batch] + list(range(16, max_batch + 1, 16))

class CUDAGraphDecoder:
    "Decode steps captured as CUDA graphs per batch-size bucket, replayed with padding."
    def __init__(self, model, cache: KVCache, attend, max_batch: int, max_blocks: int, scratch_block: int):
        dev, self.model, self.cache, self.attend = cache.data.device, model, cache, attend
        self.sizes, self.scratch = graph_batch_sizes(max_batch), scratch_block
        n = self.sizes[-1]
        self.ids, self.pos = torch.zeros(n, dtype=torch.long, device=dev), torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), scratch_block * cache.block_size, dtype=torch.long, device=dev)
        self.tables = torch.full((n, max_blocks), scratch_block, dtype=torch.int32, device=dev)
        self.lens = torch.ones(n, dtype=torch.int32, device=dev)
        self.qloc = torch.arange(n + 1, dtype=torch.int32, device=dev)
        self.graphs, self.pool = {}, None
        for bs in reversed(self.sizes): self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(self.slots[:bs], self.tables[:bs], self.lens[:bs], self.qloc[:bs + 1], None, None)

    def _forward(self, bs: int) -> torch.Tensor:
        return self.model.compute_logits(self.model(self.ids[:bs], self.pos[:bs], PagedAttention(self.cache, self._meta(bs), self.attend)))

    @torch.inference_mode()
    def _capture(self, bs: int):
        "Warm up on a side stream (as CUDA requires), then record one decode step of `bs` rows."
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2): self._forward(bs)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool): out = self._forward(bs)
        self.pool = g.pool()
        self.graphs[bs] = (g, out)

    def fits(self, x: 'ModelInputs') -> bool:
        "Whether a step can replay a graph: one token per request, every row sampled, within the largest bucket."
        n = x.input_ids.shape[0]
        return n <= self.sizes[-1] and x.meta.block_tables.shape[0] == n and x.logits_rows.shape[0] == n \
            and x.meta.block_tables.shape[1] <= self.tables.shape[1]

    def run(self, x: 'ModelInputs') -> torch.Tensor:
        "Copy the step's inputs into the static buffers (padding to the bucket), replay, return the real rows' logits."
        n = x.input_ids.shape[0]
        bs = next(b for b in self.sizes if b >= n)
        self.ids[:n].copy_(x.input_ids); self.pos[:n].copy_(x.positions); self.slots[:n].copy_(x.meta.slot_mapping)
        w = x.meta.block_tables.shape[1]
        self.tables[:n, :w].copy_(x.meta.block_tables); self.lens[:n].copy_(x.meta.context_lens)
        self.slots[n:bs].fill_(self.scratch * self.cache.block_size); self.tables[n:bs, 0] = self.scratch; self.lens[n:bs] = 1
        g, out = self.graphs[bs]
        g.replay()
        return out[:n]

# %% ../nbs/06_engine.ipynb #c99a67ac
import itertools, time
from dataclasses import dataclass

import torch

from .cache import KVCache, AttentionMetadata, PagedAttention
from .scheduler import Chunk, ScheduledBatch
from .preemption import copy_blocks
from .sampler import Sampler, StepResult

# %% ../nbs/06_engine.ipynb #0376d17f
@dataclass
class ModelInputs:
    "The flat tensors of one step."
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    logits_rows: torch.Tensor     # rows of the last token of each sampling chunk (and of its drafted tokens)

def prepare_inputs(chunks: list[Chunk], block_size: int, device) -> ModelInputs:
    "Flatten a batch's chunks into model inputs."
    ids = [t for c in chunks for t in c.token_ids]
    pos = [p for c in chunks for p in range(c.start, c.start + len(c.token_ids))]
    meta = AttentionMetadata.build([c.block_table for c in chunks], [c.start for c in chunks],
                                   [c.start + len(c.token_ids) for c in chunks], block_size, device)
    ends = list(itertools.accumulate(len(c.token_ids) for c in chunks))
    rows = [r for e, c in zip(ends, chunks) if c.sample for r in range(e - 1 - len(c.draft), e)]   # drafts: every position
    as_long = lambda x: torch.tensor(x, dtype=torch.long, device=device)
    return ModelInputs(as_long(ids), as_long(pos), meta, as_long(rows))

# %% ../nbs/06_engine.ipynb #f898d1d9
class ModelRunner:
    "Runs the model over a scheduled batch on its KV cache (and swap pool) and samples."
    def __init__(self, model, cache: KVCache, sampler: Sampler, attend=None, swap_cache: KVCache | None = None, graphs=None):
        self.model, self.cache, self.sampler, self.swap_cache, self.graphs = model, cache, sampler, swap_cache, graphs
        self.device = model.device
        self.attend = attend   # None: the PyTorch reference attention of 01_cache

    @torch.inference_mode()
    def execute(self, batch: ScheduledBatch) -> StepResult:
        "Do the step's swaps (out first, so freed blocks can be reused), compute its tokens, and sample."
        t0 = time.perf_counter()
        copy_blocks(self.cache, self.swap_cache, batch.swap_out)
        copy_blocks(self.swap_cache, self.cache, batch.swap_in)
        if not batch.chunks: return StepResult(forward_seconds=time.perf_counter() - t0)
        x = prepare_inputs(batch.chunks, self.cache.block_size, self.device)
        if self.graphs is not None and self.graphs.fits(x): logits = self.graphs.run(x)
        else:
            attn = PagedAttention(self.cache, x.meta, self.attend) if self.attend else PagedAttention(self.cache, x.meta)
            hidden = self.model(x.input_ids, x.positions, attn)
            logits = self.model.compute_logits(hidden[x.logits_rows])
        t1 = time.perf_counter()
        res = self.sampler(logits, [c for c in batch.chunks if c.sample])
        res.forward_seconds, res.sample_seconds = t1 - t0, time.perf_counter() - t1
        return res

# %% ../nbs/06_engine.ipynb #40c69ba1
def graph_batch_sizes(max_batch: int) -> list[int]:
    "Batch-size buckets to capture: 1, 2, 4, 8, then multiples of 16 up to `max_batch`."
    return [b for b in (1, 2, 4, 8) if b <= max_batch] + list(range(16, max_batch + 1, 16))

class CUDAGraphDecoder:
    "Decode steps captured as CUDA graphs per batch-size bucket, replayed with padding."
    def __init__(self, model, cache: KVCache, attend, max_batch: int, max_blocks: int, scratch_block: int):
        dev, self.model, self.cache, self.attend = cache.data.device, model, cache, attend
        self.sizes, self.scratch = graph_batch_sizes(max_batch), scratch_block
        n = self.sizes[-1]
        self.ids, self.pos = torch.zeros(n, dtype=torch.long, device=dev), torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), scratch_block * cache.block_size, dtype=torch.long, device=dev)
        self.tables = torch.full((n, max_blocks), scratch_block, dtype=torch.int32, device=dev)
        self.lens = torch.ones(n, dtype=torch.int32, device=dev)
        self.qloc = torch.arange(n + 1, dtype=torch.int32, device=dev)
        self.graphs, self.pool = {}, None
        for bs in reversed(self.sizes): self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(self.slots[:bs], self.tables[:bs], self.lens[:bs], self.qloc[:bs + 1], None, None)

    def _forward(self, bs: int) -> torch.Tensor:
        return self.model.compute_logits(self.model(self.ids[:bs], self.pos[:bs], PagedAttention(self.cache, self._meta(bs), self.attend)))

    @torch.inference_mode()
    def _capture(self, bs: int):
        "Warm up on a side stream (as CUDA requires), then record one decode step of `bs` rows."
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2): self._forward(bs)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool): out = self._forward(bs)
        self.pool = g.pool()
        self.graphs[bs] = (g, out)

    def fits(self, x: 'ModelInputs') -> bool:
        "Whether a step can replay a graph: one token per request, every row sampled, within the largest bucket."
        n = x.input_ids.shape[0]
        return n <= self.sizes[-1] and x.meta.block_tables.shape[0] == n and x.logits_rows.shape[0] == n \
            and x.meta.block_tables.shape[1] <= self.tables.shape[1]

    def run(self, x: 'ModelInputs') -> torch.Tensor:
        "Copy the step's inputs into the static buffers (padding to the bucket), replay, return the real rows' logits."
        n = x.input_ids.shape[0]
        bs = next(b for b in self.sizes if b >= n)
        self.ids[:n].copy_(x.input_ids); self.pos[:n].copy_(x.positions); self.slots[:n].copy_(x.meta.slot_mapping)
        w = x.meta.block_tables.shape[1]
        self.tables[:n, :w].copy_(x.meta.block_tables); self.lens[:n].copy_(x.meta.context_lens)
        self.slots[n:bs].fill_(self.scratch * self.cache.block_size); self.tables[n:bs, 0] = self.scratch; self.lens[n:bs] = 1
        g, out = self.graphs[bs]
        g.replay()
        return out[:n]

# %% ../nbs/06_engine.ipynb #c99a67ac
import itertools, time
from dataclasses import dataclass

import torch

from .cache import KVCache, AttentionMetadata, PagedAttention
from .scheduler import Chunk, ScheduledBatch
from .preemption import copy_blocks
from .sampler import Sampler, StepResult

# %% ../nbs/06_engine.ipynb #0376d17f
@dataclass
class ModelInputs:
    "The flat tensors of one step."
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    logits_rows: torch.Tensor     # rows of the last token of each sampling chunk (and of its drafted tokens)

def prepare_inputs(chunks: list[Chunk], block_size: int, device) -> ModelInputs:
    "Flatten a batch's chunks into model inputs."
    ids = [t for c in chunks for t in c.token_ids]
    pos = [p for c in chunks for p in range(c.start, c.start + len(c.token_ids))]
    meta = AttentionMetadata.build([c.block_table for c in chunks], [c.start for c in chunks],
                                   [c.start + len(c.token_ids) for c in chunks], block_size, device)
    ends = list(itertools.accumulate(len(c.token_ids) for c in chunks))
    rows = [r for e, c in zip(ends, chunks) if c.sample for r in range(e - 1 - len(c.draft), e)]   # drafts: every position
    as_long = lambda x: torch.tensor(x, dtype=torch.long, device=device)
    return ModelInputs(as_long(ids), as_long(pos), meta, as_long(rows))

# %% ../nbs/06_engine.ipynb #f898d1d9
class ModelRunner:
    "Runs the model over a scheduled batch on its KV cache (and swap pool) and samples."
    def __init__(self, model, cache: KVCache, sampler: Sampler, attend=None, swap_cache: KVCache | None = None, graphs=None):
        self.model, self.cache, self.sampler, self.swap_cache, self.graphs = model, cache, sampler, swap_cache, graphs
        self.device = model.device
        self.attend = attend   # None: the PyTorch reference attention of 01_cache

    @torch.inference_mode()
    def execute(self, batch: ScheduledBatch) -> StepResult:
        "Do the step's swaps (out first, so freed blocks can be reused), compute its tokens, and sample."
        t0 = time.perf_counter()
        copy_blocks(self.cache, self.swap_cache, batch.swap_out)
        copy_blocks(self.swap_cache, self.cache, batch.swap_in)
        if not batch.chunks: return StepResult(forward_seconds=time.perf_counter() - t0)
        x = prepare_inputs(batch.chunks, self.cache.block_size, self.device)
        if self.graphs is not None and self.graphs.fits(x): logits = self.graphs.run(x)
        else:
            attn = PagedAttention(self.cache, x.meta, self.attend) if self.attend else PagedAttention(self.cache, x.meta)
            hidden = self.model(x.input_ids, x.positions, attn)
            logits = self.model.compute_logits(hidden[x.logits_rows])
        t1 = time.perf_counter()
        res = self.sampler(logits, [c for c in batch.chunks if c.sample])
        res.forward_seconds, res.sample_seconds = t1 - t0, time.perf_counter() - t1
        return res

# %% ../nbs/06_engine.ipynb #40c69ba1
def graph_batch_sizes(max_batch: int) -> list[int]:
    "Batch-size buckets to capture: 1, 2, 4, 8, then multiples of 16 up to `max_batch`."
    return [b for b in (1, 2, 4, 8) if b <= max_batch] + list(range(16, max_batch + 1, 16))

class CUDAGraphDecoder:
    "Decode steps captured as CUDA graphs per batch-size bucket, replayed with padding."
    def __init__(self, model, cache: KVCache, attend, max_batch: int, max_blocks: int, scratch_block: int):
        dev, self.model, self.cache, self.attend = cache.data.device, model, cache, attend
        self.sizes, self.scratch = graph_batch_sizes(max_batch), scratch_block
        n = self.sizes[-1]
        self.ids, self.pos = torch.zeros(n, dtype=torch.long, device=dev), torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), scratch_block * cache.block_size, dtype=torch.long, device=dev)
        self.tables = torch.full((n, max_blocks), scratch_block, dtype=torch.int32, device=dev)
        self.lens = torch.ones(n, dtype=torch.int32, device=dev)
        self.qloc = torch.arange(n + 1, dtype=torch.int32, device=dev)
        self.graphs, self.pool = {}, None
        for bs in reversed(self.sizes): self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(self.slots[:bs], self.tables[:bs], self.lens[:bs], self.qloc[:bs + 1], None, None)

    def _forward(self, bs: int) -> torch.Tensor:
        return self.model.compute_logits(self.model(self.ids[:bs], self.pos[:bs], PagedAttention(self.cache, self._meta(bs), self.attend)))

    @torch.inference_mode()
    def _capture(self, bs: int):
        "Warm up on a side stream (as CUDA requires), then record one decode step of `bs` rows."
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2): self._forward(bs)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool): out = self._forward(bs)
        self.pool = g.pool()
        self.graphs[bs] = (g, out)

    def fits(self, x: 'ModelInputs') -> bool:
        "Whether a step can replay a graph: one token per request, every row sampled, within the largest bucket."
        n = x.input_ids.shape[0]
        return n <= self.sizes[-1] and x.meta.block_tables.shape[0] == n and x.logits_rows.shape[0] == n \
            and x.meta.block_tables.shape[1] <= self.tables.shape[1]

    def run(self, x: 'ModelInputs') -> torch.Tensor:
        "Copy the step's inputs into the static buffers (padding to the bucket), replay, return the real rows' logits."
        n = x.input_ids.shape[0]
        bs = next(b for b in self.sizes if b >= n)
        self.ids[:n].copy_(x.input_ids); self.pos[:n].copy_(x.positions); self.slots[:n].copy_(x.meta.slot_mapping)
        w = x.meta.block_tables.shape[1]
        self.tables[:n, :w].copy_(x.meta.block_tables); self.lens[:n].copy_(x.meta.context_lens)
        self.slots[n:bs].fill_(self.scratch * self.cache.block_size); self.tables[n:bs, 0] = self.scratch; self.lens[n:bs] = 1
        g, out = self.graphs[bs]
        g.replay()
        return out[:n]

# %% ../nbs/06_engine.ipynb #c99a67ac
import itertools, time
from dataclasses import dataclass

import torch

from .cache import KVCache, AttentionMetadata, PagedAttention
from .scheduler import Chunk, ScheduledBatch
from .preemption import copy_blocks
from .sampler import Sampler, StepResult

# %% ../nbs/06_engine.ipynb #0376d17f
@dataclass
class ModelInputs:
    "The flat tensors of one step."
    input_ids: torch.Tensor
    positions: torch.Tensor
    meta: AttentionMetadata
    logits_rows: torch.Tensor     # rows of the last token of each sampling chunk (and of its drafted tokens)

def prepare_inputs(chunks: list[Chunk], block_size: int, device) -> ModelInputs:
    "Flatten a batch's chunks into model inputs."
    ids = [t for c in chunks for t in c.token_ids]
    pos = [p for c in chunks for p in range(c.start, c.start + len(c.token_ids))]
    meta = AttentionMetadata.build([c.block_table for c in chunks], [c.start for c in chunks],
                                   [c.start + len(c.token_ids) for c in chunks], block_size, device)
    ends = list(itertools.accumulate(len(c.token_ids) for c in chunks))
    rows = [r for e, c in zip(ends, chunks) if c.sample for r in range(e - 1 - len(c.draft), e)]   # drafts: every position
    as_long = lambda x: torch.tensor(x, dtype=torch.long, device=device)
    return ModelInputs(as_long(ids), as_long(pos), meta, as_long(rows))

# %% ../nbs/06_engine.ipynb #f898d1d9
class ModelRunner:
    "Runs the model over a scheduled batch on its KV cache (and swap pool) and samples."
    def __init__(self, model, cache: KVCache, sampler: Sampler, attend=None, swap_cache: KVCache | None = None, graphs=None):
        self.model, self.cache, self.sampler, self.swap_cache, self.graphs = model, cache, sampler, swap_cache, graphs
        self.device = model.device
        self.attend = attend   # None: the PyTorch reference attention of 01_cache

    @torch.inference_mode()
    def execute(self, batch: ScheduledBatch) -> StepResult:
        "Do the step's swaps (out first, so freed blocks can be reused), compute its tokens, and sample."
        t0 = time.perf_counter()
        copy_blocks(self.cache, self.swap_cache, batch.swap_out)
        copy_blocks(self.swap_cache, self.cache, batch.swap_in)
        if not batch.chunks: return StepResult(forward_seconds=time.perf_counter() - t0)
        x = prepare_inputs(batch.chunks, self.cache.block_size, self.device)
        if self.graphs is not None and self.graphs.fits(x): logits = self.graphs.run(x)
        else:
            attn = PagedAttention(self.cache, x.meta, self.attend) if self.attend else PagedAttention(self.cache, x.meta)
            hidden = self.model(x.input_ids, x.positions, attn)
            logits = self.model.compute_logits(hidden[x.logits_rows])
        t1 = time.perf_counter()
        res = self.sampler(logits, [c for c in batch.chunks if c.sample])
        res.forward_seconds, res.sample_seconds = t1 - t0, time.perf_counter() - t1
        return res

# %% ../nbs/06_engine.ipynb #40c69ba1
def graph_batch_sizes(max_batch: int) -> list[int]:
    "Batch-size buckets to capture: 1, 2, 4, 8, then multiples of 16 up to `max_batch`."
    return [b for b in (1, 2, 4, 8) if b <= max_batch] + list(range(16, max_batch + 1, 16))

class CUDAGraphDecoder:
    "Decode steps captured as CUDA graphs per batch-size bucket, replayed with padding."
    def __init__(self, model, cache: KVCache, attend, max_batch: int, max_blocks: int, scratch_block: int):
        dev, self.model, self.cache, self.attend = cache.data.device, model, cache, attend
        self.sizes, self.scratch = graph_batch_sizes(max_batch), scratch_block
        n = self.sizes[-1]
        self.ids, self.pos = torch.zeros(n, dtype=torch.long, device=dev), torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), scratch_block * cache.block_size, dtype=torch.long, device=dev)
        self.tables = torch.full((n, max_blocks), scratch_block, dtype=torch.int32, device=dev)
        self.lens = torch.ones(n, dtype=torch.int32, device=dev)
        self.qloc = torch.arange(n + 1, dtype=torch.int32, device=dev)
        self.graphs, self.pool = {}, None
        for bs in reversed(self.sizes): self._capture(bs)

    def _meta(self, bs: int) -> AttentionMetadata:
        return AttentionMetadata(self.slots[:bs], self.tables[:bs], self.lens[:bs], self.qloc[:bs + 1], None, None)

    def _forward(self, bs: int) -> torch.Tensor:
        return self.model.compute_logits(self.model(self.ids[:bs], self.pos[:bs], PagedAttention(self.cache, self._meta(bs), self.attend)))

    @torch.inference_mode()
    def _capture(self, bs: int):
        "Warm up on a side stream (as CUDA requires), then record one decode step of `bs` rows."
        s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2): self._forward(bs)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, pool=self.pool): out = self._forward(bs)
        self.pool = g.pool()
        self.graphs[bs] = (g, out)

    def fits(self, x: 'ModelInputs') -> bool:
        "Whether a step can replay a graph: one token per request, every row sampled, within the largest bucket."
        n = x.input_ids.shape[0]
        return n <= self.sizes[-1] and x.meta.block_tables.shape[0] == n and x.logits_rows.shape[0] == n \
            and x.meta.block_tables.shape[1] <= self.tables.shape[1]

    def run(self, x: 'ModelInputs') -> torch.Tensor:
        "Copy the step's inputs into the static buffers (padding to the bucket), replay, return the real rows' logits."
        n = x.input_ids.shape[0]
        bs = next(b for b in self.sizes if b >= n)
        self.ids[:n].copy_(x.input_ids); self.pos[:n].copy_(x.positions); self.slots[:n].copy_(x.meta.slot_mapping)
        w = x.meta.block_tables.shape[1]
        self.tables[:n, :w].copy_(x.meta.block_tables); self.lens[:n].copy_(x.meta.context_lens)
        self.slots[n:bs].fill_(self.scratch * self.cache.block_size); self.tables[n:bs, 0] = self.scratch; self.lens[n:bs] = 1
        g, out = self.graphs[bs]
        g.replay()
        return out[:n]