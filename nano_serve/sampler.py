# %% auto #0
__all__ = ['apply_penalties', 'filter_probs', 'TokenLogprobs', 'StepResult', 'accept_draft', 'Sampler', 'apply_penalties', 'filter_probs', 'TokenLogprobs', 'StepResult', 'accept_draft', 'Sampler', 'apply_penalties', 'filter_probs', 'TokenLogprobs', 'StepResult', 'accept_draft', 'Sampler', 'apply_penalties', 'filter_probs', 'TokenLogprobs', 'StepResult', 'accept_draft', 'Sampler', 'apply_penalties', 'filter_probs', 'TokenLogprobs', 'StepResult', 'accept_draft', 'Sampler']

# %% ../nbs/06_engine.ipynb #ae561ee0
import itertools, time
from dataclasses import dataclass, field

import torch

from .scheduler import Chunk

# %% ../nbs/06_engine.ipynb #8e1ccc94
def apply_penalties(logits: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    "Repetition, presence and frequency penalties, in place, for the rows whose params ask for them."
    for i, c in enumerate(chunks):
        if c.history is None: continue
        prompt, out = c.history
        p, row = c.params, logits[i]
        if p.repetition_penalty != 1:
            seen = torch.tensor(sorted(set(prompt) | set(out)), device=logits.device)
            vals = row[seen]
            row[seen] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if out and (p.presence_penalty or p.frequency_penalty):
            ids, counts = torch.tensor(out, device=logits.device).unique(return_counts=True)
            row[ids] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
    return logits

def filter_probs(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    "Probabilities after temperature, top-k (0 = off), top-p and min-p, per row; rows renormalized."
    probs = torch.softmax(logits / temperature[:, None], dim=-1)
    if (top_k > 0).any() or (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        rank = torch.arange(probs.shape[-1], device=probs.device)[None, :]
        drop = ((sorted_p.cumsum(-1) - sorted_p) >= top_p[:, None]) | ((top_k[:, None] > 0) & (rank >= top_k[:, None]))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill(drop, 0.0))
    if (min_p > 0).any(): probs = probs.masked_fill(probs < min_p[:, None] * probs.max(-1, keepdim=True).values, 0.0)
    return probs / probs.sum(-1, keepdim=True)

# %% ../nbs/06_engine.ipynb #9e3dba08
@dataclass
class TokenLogprobs:
    "The sampled token's log-probability and the top alternatives at that position."
    token_id: int
    logprob: float
    top: list[tuple[int, float]]

@dataclass
class StepResult:
    "What the runner hands back for one step, keyed by request id."
    sampled: dict[str, list[int]] = field(default_factory=dict)   # new tokens: one, or a verified draft's and one more
    logprobs: dict[str, TokenLogprobs] = field(default_factory=dict)
    forward_seconds: float = 0.0
    sample_seconds: float = 0.0

def accept_draft(draft: tuple[int, ...], choices: list[int]) -> list[int]:
    "Greedy verification: `draft` up to its first disagreement with the model's `choices`, then the model's choice there."
    n = 0
    while n < len(draft) and draft[n] == choices[n]: n += 1
    return [*draft[:n], choices[n]]

assert accept_draft((5, 6, 7), [5, 6, 9, 1]) == [5, 6, 9] and accept_draft((5, 6), [5, 6, 2]) == [5, 6, 2]
assert accept_draft((4,), [3, 8]) == [3]

# %% ../nbs/06_engine.ipynb #858e9f67
class Sampler:
    "Turns the last-position logits of sampling rows into tokens, with per-request random generators."
    def __init__(self, seed: int = 0):
        self.seed, self.generators = seed, {}

    def generator(self, c: Chunk, device) -> torch.Generator:
        "The request's own generator, created on first use from its seed (or the engine's seed and its id)."
        if c.request_id not in self.generators:
            seed = c.params.seed if c.params.seed is not None else hash((self.seed, c.request_id)) % 2**63
            self.generators[c.request_id] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[c.request_id]

    def release(self, request_id: str): self.generators.pop(request_id, None)

    def __call__(self, logits: torch.Tensor, chunks: list[Chunk]) -> StepResult:
        "Sample a token from each chunk's last row of `logits`; a drafted chunk also has a row per drafted token before it."
        res, drafted = StepResult(), {}
        if any(c.draft for c in chunks):   # greedy choices at the drafted positions; the last rows go on as usual
            ends = list(itertools.accumulate(1 + len(c.draft) for c in chunks))
            choices = iter(logits[[r for c, e in zip(chunks, ends) for r in range(e - 1 - len(c.draft), e - 1)]].argmax(-1).tolist())
            drafted = {i: [next(choices) for _ in c.draft] for i, c in enumerate(chunks) if c.draft}
            logits = logits[[e - 1 for e in ends]]
        want_lp = [i for i, c in enumerate(chunks) if c.params.logprobs is not None]
        raw_lp = torch.log_softmax(logits[want_lp], -1) if want_lp else None
        logits = apply_penalties(logits, chunks)
        tokens = logits.argmax(-1)
        rand = [i for i, c in enumerate(chunks) if not c.params.greedy]
        if rand:
            dev = logits.device
            p = [chunks[i].params for i in rand]
            col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt, device=dev)
            probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                                 col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32))
            for j, i in enumerate(rand):
                tokens[i] = torch.multinomial(probs[j], 1, generator=self.generator(chunks[i], dev))[0]
        tokens = tokens.tolist()
        for i, c in enumerate(chunks):
            res.sampled[c.request_id] = accept_draft(c.draft, drafted[i] + [tokens[i]]) if c.draft else [tokens[i]]
        for j, i in enumerate(want_lp):
            k = chunks[i].params.logprobs
            top = raw_lp[j].topk(k) if k else None
            res.logprobs[chunks[i].request_id] = TokenLogprobs(tokens[i], raw_lp[j, tokens[i]].item(),
                                                               list(zip(top.indices.tolist(), top.values.tolist())) if k else [])
        return res

# %% ../nbs/06_engine.ipynb #ae561ee0
import itertools, time
from dataclasses import dataclass, field

import torch

from .scheduler import Chunk

# %% ../nbs/06_engine.ipynb #8e1ccc94
def apply_penalties(logits: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    "Repetition, presence and frequency penalties, in place, for the rows whose params ask for them."
    for i, c in enumerate(chunks):
        if c.history is None: continue
        prompt, out = c.history
        p, row = c.params, logits[i]
        if p.repetition_penalty != 1:
            seen = torch.tensor(sorted(set(prompt) | set(out)), device=logits.device)
            vals = row[seen]
            row[seen] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if out and (p.presence_penalty or p.frequency_penalty):
            ids, counts = torch.tensor(out, device=logits.device).unique(return_counts=True)
            row[ids] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
    return logits

def filter_probs(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    "Probabilities after temperature, top-k (0 = off), top-p and min-p, per row; rows renormalized."
    probs = torch.softmax(logits / temperature[:, None], dim=-1)
    if (top_k > 0).any() or (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        rank = torch.arange(probs.shape[-1], device=probs.device)[None, :]
        drop = ((sorted_p.cumsum(-1) - sorted_p) >= top_p[:, None]) | ((top_k[:, None] > 0) & (rank >= top_k[:, None]))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill(drop, 0.0))
    if (min_p > 0).any(): probs = probs.masked_fill(probs < min_p[:, None] * probs.max(-1, keepdim=True).values, 0.0)
    return probs / probs.sum(-1, keepdim=True)

# %% ../nbs/06_engine.ipynb #9e3dba08
@dataclass
class TokenLogprobs:
    "The sampled token's log-probability and the top alternatives at that position."
    token_id: int
    logprob: float
    top: list[tuple[int, float]]

@dataclass
class StepResult:
    "What the runner hands back for one step, keyed by request id."
    sampled: dict[str, list[int]] = field(default_factory=dict)   # new tokens: one, or a verified draft's and one more
    logprobs: dict[str, TokenLogprobs] = field(default_factory=dict)
    forward_seconds: float = 0.0
    sample_seconds: float = 0.0

def accept_draft(draft: tuple[int, ...], choices: list[int]) -> list[int]:
    "Greedy verification: `draft` up to its first disagreement with the model's `choices`, then the model's choice there."
    n = 0
    while n < len(draft) and draft[n] == choices[n]: n += 1
    return [*draft[:n], choices[n]]

assert accept_draft((5, 6, 7), [5, 6, 9, 1]) == [5, 6, 9] and accept_draft((5, 6), [5, 6, 2]) == [5, 6, 2]
assert accept_draft((4,), [3, 8]) == [3]

# %% ../nbs/06_engine.ipynb #858e9f67
class Sampler:
    "Turns the last-position logits of sampling rows into tokens, with per-request random generators."
    def __init__(self, seed: int = 0):
        self.seed, self.generators = seed, {}

    def generator(self, c: Chunk, device) -> torch.Generator:
        "The request's own generator, created on first use from its seed (or the engine's seed and its id)."
        if c.request_id not in self.generators:
            seed = c.params.seed if c.params.seed is not None else hash((self.seed, c.request_id)) % 2**63
            self.generators[c.request_id] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[c.request_id]

    def release(self, request_id: str): self.generators.pop(request_id, None)

    def __call__(self, logits: torch.Tensor, chunks: list[Chunk]) -> StepResult:
        "Sample a token from each chunk's last row of `logits`; a drafted chunk also has a row per drafted token before it."
        res, drafted = StepResult(), {}
        if any(c.draft for c in chunks):   # greedy choices at the drafted positions; the last rows go on as usual
            ends = list(itertools.accumulate(1 + len(c.draft) for c in chunks))
            choices = iter(logits[[r for c, e in zip(chunks, ends) for r in range(e - 1 - len(c.draft), e - 1)]].argmax(-1).tolist())
            drafted = {i: [next(choices) for _ in c.draft] for i, c in enumerate(chunks) if c.draft}
            logits = logits[[e - 1 for e in ends]]
        want_lp = [i for i, c in enumerate(chunks) if c.params.logprobs is not None]
        raw_lp = torch.log_softmax(logits[want_lp], -1) if want_lp else None
        logits = apply_penalties(logits, chunks)
        tokens = logits.argmax(-1)
        rand = [i for i, c in enumerate(chunks) if not c.params.greedy]
        if rand:
            dev = logits.device
            p = [chunks[i].params for i in rand]
            col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt, device=dev)
            probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                                 col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32))
            for j, i in enumerate(rand):
                tokens[i] = torch.multinomial(probs[j], 1, generator=self.generator(chunks[i], dev))[0]
        tokens = tokens.tolist()
        for i, c in enumerate(chunks):
            res.sampled[c.request_id] = accept_draft(c.draft, drafted[i] + [tokens[i]]) if c.draft else [tokens[i]]
        for j, i in enumerate(want_lp):
            k = chunks[i].params.logprobs
            top = raw_lp[j].topk(k) if k else None
            res.logprobs[chunks[i].request_id] = TokenLogprobs(tokens[i], raw_lp[j, tokens[i]].item(),
                                                               list(zip(top.indices.tolist(), top.values.tolist())) if k else [])
        return res

# %% ../nbs/06_engine.ipynb #ae561ee0
import itertools, time
from dataclasses import dataclass, field

import torch

from .scheduler import Chunk

# %% ../nbs/06_engine.ipynb #8e1ccc94
def apply_penalties(logits: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    "Repetition, presence and frequency penalties, in place, for the rows whose params ask for them."
    for i, c in enumerate(chunks):
        if c.history is None: continue
        prompt, out = c.history
        p, row = c.params, logits[i]
        if p.repetition_penalty != 1:
            seen = torch.tensor(sorted(set(prompt) | set(out)), device=logits.device)
            vals = row[seen]
            row[seen] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if out and (p.presence_penalty or p.frequency_penalty):
            ids, counts = torch.tensor(out, device=logits.device).unique(return_counts=True)
            row[ids] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
    return logits

def filter_probs(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    "Probabilities after temperature, top-k (0 = off), top-p and min-p, per row; rows renormalized."
    probs = torch.softmax(logits / temperature[:, None], dim=-1)
    if (top_k > 0).any() or (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        rank = torch.arange(probs.shape[-1], device=probs.device)[None, :]
        drop = ((sorted_p.cumsum(-1) - sorted_p) >= top_p[:, None]) | ((top_k[:, None] > 0) & (rank >= top_k[:, None]))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill(drop, 0.0))
    if (min_p > 0).any(): probs = probs.masked_fill(probs < min_p[:, None] * probs.max(-1, keepdim=True).values, 0.0)
    return probs / probs.sum(-1, keepdim=True)

# %% ../nbs/06_engine.ipynb #9e3dba08
@dataclass
class TokenLogprobs:
    "The sampled token's log-probability and the top alternatives at that position."
    token_id: int
    logprob: float
    top: list[tuple[int, float]]

@dataclass
class StepResult:
    "What the runner hands back for one step, keyed by request id."
    sampled: dict[str, list[int]] = field(default_factory=dict)   # new tokens: one, or a verified draft's and one more
    logprobs: dict[str, TokenLogprobs] = field(default_factory=dict)
    forward_seconds: float = 0.0
    sample_seconds: float = 0.0

def accept_draft(draft: tuple[int, ...], choices: list[int]) -> list[int]:
    "Greedy verification: `draft` up to its first disagreement with the model's `choices`, then the model's choice there."
    n = 0
    while n < len(draft) and draft[n] == choices[n]: n += 1
    return [*draft[:n], choices[n]]

assert accept_draft((5, 6, 7), [5, 6, 9, 1]) == [5, 6, 9] and accept_draft((5, 6), [5, 6, 2]) == [5, 6, 2]
assert accept_draft((4,), [3, 8]) == [3]

# %% ../nbs/06_engine.ipynb #858e9f67
class Sampler:
    "Turns the last-position logits of sampling rows into tokens, with per-request random generators."
    def __init__(self, seed: int = 0):
        self.seed, self.generators = seed, {}

    def generator(self, c: Chunk, device) -> torch.Generator:
        "The request's own generator, created on first use from its seed (or the engine's seed and its id)."
        if c.request_id not in self.generators:
            seed = c.params.seed if c.params.seed is not None else hash((self.seed, c.request_id)) % 2**63
            self.generators[c.request_id] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[c.request_id]

    def release(self, request_id: str): self.generators.pop(request_id, None)

    def __call__(self, logits: torch.Tensor, chunks: list[Chunk]) -> StepResult:
        "Sample a token from each chunk's last row of `logits`; a drafted chunk also has a row per drafted token before it."
        res, drafted = StepResult(), {}
        if any(c.draft for c in chunks):   # greedy choices at the drafted positions; the last rows go on as usual
            ends = list(itertools.accumulate(1 + len(c.draft) for c in chunks))
            choices = iter(logits[[r for c, e in zip(chunks, ends) for r in range(e - 1 - len(c.draft), e - 1)]].argmax(-1).tolist())
            drafted = {i: [next(choices) for _ in c.draft] for i, c in enumerate(chunks) if c.draft}
            logits = logits[[e - 1 for e in ends]]
        want_lp = [i for i, c in enumerate(chunks) if c.params.logprobs is not None]
        raw_lp = torch.log_softmax(logits[want_lp], -1) if want_lp else None
        logits = apply_penalties(logits, chunks)
        tokens = logits.argmax(-1)
        rand = [i for i, c in enumerate(chunks) if not c.params.greedy]
        if rand:
            dev = logits.device
            p = [chunks[i].params for i in rand]
            col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt, device=dev)
            probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                                 col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32))
            for j, i in enumerate(rand):
                tokens[i] = torch.multinomial(probs[j], 1, generator=self.generator(chunks[i], dev))[0]
        tokens = tokens.tolist()
        for i, c in enumerate(chunks):
            res.sampled[c.request_id] = accept_draft(c.draft, drafted[i] + [tokens[i]]) if c.draft else [tokens[i]]
        for j, i in enumerate(want_lp):
            k = chunks[i].params.logprobs
            top = raw_lp[j].topk(k) if k else None
            res.logprobs[chunks[i].request_id] = TokenLogprobs(tokens[i], raw_lp[j, tokens[i]].item(),
                                                               list(zip(top.indices.tolist(), top.values.tolist())) if k else [])
        return res

# %% ../nbs/06_engine.ipynb #ae561ee0
import itertools, time
from dataclasses import dataclass, field

import torch

from .scheduler import Chunk

# %% ../nbs/06_engine.ipynb #8e1ccc94
def apply_penalties(logits: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    "Repetition, presence and frequency penalties, in place, for the rows whose params ask for them."
    for i, c in enumerate(chunks):
        if c.history is None: continue
        prompt, out = c.history
        p, row = c.params, logits[i]
        if p.repetition_penalty != 1:
            seen = torch.tensor(sorted(set(prompt) | set(out)), device=logits.device)
            vals = row[seen]
            row[seen] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if out and (p.presence_penalty or p.frequency_penalty):
            ids, counts = torch.tensor(out, device=logits.device).unique(return_counts=True)
            row[ids] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
    return logits

def filter_probs(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    "Probabilities after temperature, top-k (0 = off), top-p and min-p, per row; rows renormalized."
    probs = torch.softmax(logits / temperature[:, None], dim=-1)
    if (top_k > 0).any() or (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        rank = torch.arange(probs.shape[-1], device=probs.device)[None, :]
        drop = ((sorted_p.cumsum(-1) - sorted_p) >= top_p[:, None]) | ((top_k[:, None] > 0) & (rank >= top_k[:, None]))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill(drop, 0.0))
    if (min_p > 0).any(): probs = probs.masked_fill(probs < min_p[:, None] * probs.max(-1, keepdim=True).values, 0.0)
    return probs / probs.sum(-1, keepdim=True)

# %% ../nbs/06_engine.ipynb #9e3dba08
@dataclass
class TokenLogprobs:
    "The sampled token's log-probability and the top alternatives at that position."
    token_id: int
    logprob: float
    top: list[tuple[int, float]]

@dataclass
class StepResult:
    "What the runner hands back for one step, keyed by request id."
    sampled: dict[str, list[int]] = field(default_factory=dict)   # new tokens: one, or a verified draft's and one more
    logprobs: dict[str, TokenLogprobs] = field(default_factory=dict)
    forward_seconds: float = 0.0
    sample_seconds: float = 0.0

def accept_draft(draft: tuple[int, ...], choices: list[int]) -> list[int]:
    "Greedy verification: `draft` up to its first disagreement with the model's `choices`, then the model's choice there."
    n = 0
    while n < len(draft) and draft[n] == choices[n]: n += 1
    return [*draft[:n], choices[n]]

assert accept_draft((5, 6, 7), [5, 6, 9, 1]) == [5, 6, 9] and accept_draft((5, 6), [5, 6, 2]) == [5, 6, 2]
assert accept_draft((4,), [3, 8]) == [3]

# %% ../nbs/06_engine.ipynb #858e9f67
class Sampler:
    "Turns the last-position logits of sampling rows into tokens, with per-request random generators."
    def __init__(self, seed: int = 0):
        self.seed, self.generators = seed, {}

    def generator(self, c: Chunk, device) -> torch.Generator:
        "The request's own generator, created on first use from its seed (or the engine's seed and its id)."
        if c.request_id not in self.generators:
            seed = c.params.seed if c.params.seed is not None else hash((self.seed, c.request_id)) % 2**63
            self.generators[c.request_id] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[c.request_id]

    def release(self, request_id: str): self.generators.pop(request_id, None)

    def __call__(self, logits: torch.Tensor, chunks: list[Chunk]) -> StepResult:
        "Sample a token from each chunk's last row of `logits`; a drafted chunk also has a row per drafted token before it."
        res, drafted = StepResult(), {}
        if any(c.draft for c in chunks):   # greedy choices at the drafted positions; the last rows go on as usual
            ends = list(itertools.accumulate(1 + len(c.draft) for c in chunks))
            choices = iter(logits[[r for c, e in zip(chunks, ends) for r in range(e - 1 - len(c.draft), e - 1)]].argmax(-1).tolist())
            drafted = {i: [next(choices) for _ in c.draft] for i, c in enumerate(chunks) if c.draft}
            logits = logits[[e - 1 for e in ends]]
        want_lp = [i for i, c in enumerate(chunks) if c.params.logprobs is not None]
        raw_lp = torch.log_softmax(logits[want_lp], -1) if want_lp else None
        logits = apply_penalties(logits, chunks)
        tokens = logits.argmax(-1)
        rand = [i for i, c in enumerate(chunks) if not c.params.greedy]
        if rand:
            dev = logits.device
            p = [chunks[i].params for i in rand]
            col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt, device=dev)
            probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                                 col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32))
            for j, i in enumerate(rand):
                tokens[i] = torch.multinomial(probs[j], 1, generator=self.generator(chunks[i], dev))[0]
        tokens = tokens.tolist()
        for i, c in enumerate(chunks):
            res.sampled[c.request_id] = accept_draft(c.draft, drafted[i] + [tokens[i]]) if c.draft else [tokens[i]]
        for j, i in enumerate(want_lp):
            k = chunks[i].params.logprobs
            top = raw_lp[j].topk(k) if k else None
            res.logprobs[chunks[i].request_id] = TokenLogprobs(tokens[i], raw_lp[j, tokens[i]].item(),
                                                               list(zip(top.indices.tolist(), top.values.tolist())) if k else [])
        return res

# %% ../nbs/06_engine.ipynb #ae561ee0
import itertools, time
from dataclasses import dataclass, field

import torch

from .scheduler import Chunk

# %% ../nbs/06_engine.ipynb #8e1ccc94
def apply_penalties(logits: torch.Tensor, chunks: list[Chunk]) -> torch.Tensor:
    "Repetition, presence and frequency penalties, in place, for the rows whose params ask for them."
    for i, c in enumerate(chunks):
        if c.history is None: continue
        prompt, out = c.history
        p, row = c.params, logits[i]
        if p.repetition_penalty != 1:
            seen = torch.tensor(sorted(set(prompt) | set(out)), device=logits.device)
            vals = row[seen]
            row[seen] = torch.where(vals > 0, vals / p.repetition_penalty, vals * p.repetition_penalty)
        if out and (p.presence_penalty or p.frequency_penalty):
            ids, counts = torch.tensor(out, device=logits.device).unique(return_counts=True)
            row[ids] -= p.presence_penalty + p.frequency_penalty * counts.to(row.dtype)
    return logits

def filter_probs(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor, min_p: torch.Tensor) -> torch.Tensor:
    "Probabilities after temperature, top-k (0 = off), top-p and min-p, per row; rows renormalized."
    probs = torch.softmax(logits / temperature[:, None], dim=-1)
    if (top_k > 0).any() or (top_p < 1).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
        rank = torch.arange(probs.shape[-1], device=probs.device)[None, :]
        drop = ((sorted_p.cumsum(-1) - sorted_p) >= top_p[:, None]) | ((top_k[:, None] > 0) & (rank >= top_k[:, None]))
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill(drop, 0.0))
    if (min_p > 0).any(): probs = probs.masked_fill(probs < min_p[:, None] * probs.max(-1, keepdim=True).values, 0.0)
    return probs / probs.sum(-1, keepdim=True)

# %% ../nbs/06_engine.ipynb #9e3dba08
@dataclass
class TokenLogprobs:
    "The sampled token's log-probability and the top alternatives at that position."
    token_id: int
    logprob: float
    top: list[tuple[int, float]]

@dataclass
class StepResult:
    "What the runner hands back for one step, keyed by request id."
    sampled: dict[str, list[int]] = field(default_factory=dict)   # new tokens: one, or a verified draft's and one more
    logprobs: dict[str, TokenLogprobs] = field(default_factory=dict)
    forward_seconds: float = 0.0
    sample_seconds: float = 0.0

def accept_draft(draft: tuple[int, ...], choices: list[int]) -> list[int]:
    "Greedy verification: `draft` up to its first disagreement with the model's `choices`, then the model's choice there."
    n = 0
    while n < len(draft) and draft[n] == choices[n]: n += 1
    return [*draft[:n], choices[n]]

assert accept_draft((5, 6, 7), [5, 6, 9, 1]) == [5, 6, 9] and accept_draft((5, 6), [5, 6, 2]) == [5, 6, 2]
assert accept_draft((4,), [3, 8]) == [3]

# %% ../nbs/06_engine.ipynb #858e9f67
class Sampler:
    "Turns the last-position logits of sampling rows into tokens, with per-request random generators."
    def __init__(self, seed: int = 0):
        self.seed, self.generators = seed, {}

    def generator(self, c: Chunk, device) -> torch.Generator:
        "The request's own generator, created on first use from its seed (or the engine's seed and its id)."
        if c.request_id not in self.generators:
            seed = c.params.seed if c.params.seed is not None else hash((self.seed, c.request_id)) % 2**63
            self.generators[c.request_id] = torch.Generator(device=device).manual_seed(seed)
        return self.generators[c.request_id]

    def release(self, request_id: str): self.generators.pop(request_id, None)

    def __call__(self, logits: torch.Tensor, chunks: list[Chunk]) -> StepResult:
        "Sample a token from each chunk's last row of `logits`; a drafted chunk also has a row per drafted token before it."
        res, drafted = StepResult(), {}
        if any(c.draft for c in chunks):   # greedy choices at the drafted positions; the last rows go on as usual
            ends = list(itertools.accumulate(1 + len(c.draft) for c in chunks))
            choices = iter(logits[[r for c, e in zip(chunks, ends) for r in range(e - 1 - len(c.draft), e - 1)]].argmax(-1).tolist())
            drafted = {i: [next(choices) for _ in c.draft] for i, c in enumerate(chunks) if c.draft}
            logits = logits[[e - 1 for e in ends]]
        want_lp = [i for i, c in enumerate(chunks) if c.params.logprobs is not None]
        raw_lp = torch.log_softmax(logits[want_lp], -1) if want_lp else None
        logits = apply_penalties(logits, chunks)
        tokens = logits.argmax(-1)
        rand = [i for i, c in enumerate(chunks) if not c.params.greedy]
        if rand:
            dev = logits.device
            p = [chunks[i].params for i in rand]
            col = lambda f, dt: torch.tensor([f(x) for x in p], dtype=dt, device=dev)
            probs = filter_probs(logits[rand], col(lambda x: x.temperature, torch.float32), col(lambda x: x.top_k, torch.long),
                                 col(lambda x: x.top_p, torch.float32), col(lambda x: x.min_p, torch.float32))
            for j, i in enumerate(rand):
                tokens[i] = torch.multinomial(probs[j], 1, generator=self.generator(chunks[i], dev))[0]
        tokens = tokens.tolist()
        for i, c in enumerate(chunks):
            res.sampled[c.request_id] = accept_draft(c.draft, drafted[i] + [tokens[i]]) if c.draft else [tokens[i]]
        for j, i in enumerate(want_lp):
            k = chunks[i].params.logprobs
            top = raw_lp[j].topk(k) if k else None
            res.logprobs[chunks[i].request_id] = TokenLogprobs(tokens[i], raw_lp[j, tokens[i]].item(),
                                                               list(zip(top.indices.tolist(), top.values.tolist())) if k else [])
        return res