# %% auto #0
__all__ = ['IncrementalDetokenizer', 'find_stop', 'held_back', 'CompletionOutput', 'RequestOutput', 'TokenDelta', 'EngineLimits', 'eos_token_id', 'max_token_chars', 'InputProcessor', 'OutputProcessor', 'IncrementalDetokenizer', 'find_stop', 'held_back', 'CompletionOutput', 'RequestOutput', 'TokenDelta', 'EngineLimits', 'eos_token_id', 'max_token_chars', 'expand_n', 'InputProcessor', 'OutputProcessor', 'IncrementalDetokenizer', 'find_stop', 'held_back', 'CompletionOutput', 'RequestOutput', 'TokenDelta', 'EngineLimits', 'eos_token_id', 'max_token_chars', 'expand_n', 'InputProcessor', 'OutputProcessor', 'IncrementalDetokenizer', 'find_stop', 'held_back', 'CompletionOutput', 'RequestOutput', 'TokenDelta', 'EngineLimits', 'eos_token_id', 'max_token_chars', 'expand_n', 'InputProcessor', 'OutputProcessor', 'IncrementalDetokenizer', 'find_stop', 'held_back', 'CompletionOutput', 'RequestOutput', 'TokenDelta', 'EngineLimits', 'eos_token_id', 'max_token_chars', 'expand_n', 'InputProcessor', 'OutputProcessor']

# %% ../nbs/06_engine.ipynb #3512eea9
import itertools
from dataclasses import dataclass, field

from .scheduler import SamplingParams, Request
from .sampler import TokenLogprobs

# %% ../nbs/06_engine.ipynb #f7a294e6
class IncrementalDetokenizer:
    "Turns a growing list of token ids into text, never splitting a multi-byte character."
    def __init__(self, tokenizer, skip_special_tokens: bool = True):
        self.tok, self.skip = tokenizer, skip_special_tokens
        self.ids, self.prefix, self.read, self.text = [], 0, 0, ''

    def add(self, token_id: int) -> str:
        "Append one token; return the newly complete text (maybe empty)."
        self.ids.append(token_id)
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        now = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(now) <= len(before) or now.endswith('\ufffd'): return ''
        new = now[len(before):]
        self.prefix, self.read = self.read, len(self.ids)
        self.text += new
        return new

def find_stop(text: str, new_len: int, stops: list[str]) -> int | None:
    "Index where the earliest stop string starts, searching only where the last `new_len` characters could complete one."
    hits = [i for s in stops if (i := text.find(s, max(0, len(text) - new_len - len(s) + 1))) >= 0]
    return min(hits) if hits else None

def held_back(text: str, stops: list[str]) -> int:
    "Length of the longest tail of `text` that is a proper prefix of some stop string (not yet safe to show)."
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)

# %% ../nbs/06_engine.ipynb #b785aff4
@dataclass
class CompletionOutput:
    "One completion of a prompt."
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] | None = None

    @property
    def finished(self) -> bool: return self.finish_reason is not None

@dataclass
class RequestOutput:
    "A prompt and its completions so far (all of them once `finished`)."
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | tuple[int, ...]
    outputs: list[CompletionOutput]
    num_cached_tokens: int = 0
    error: str | None = None          # why the request failed, when its finish_reason is 'error'

    @property
    def finished(self) -> bool: return all(o.finished for o in self.outputs)

# %% ../nbs/06_engine.ipynb #5a05a63c
@dataclass
class TokenDelta:
    "What the engine core reports for one request after a step: its new token ids, and why it ended, if it did."
    request_id: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    error: str | None = None              # set when the core failed this request

@dataclass
class EngineLimits:
    "The numbers a frontend needs to validate requests without the model: vocabulary, context, KV pool."
    vocab_size: int
    max_model_len: int
    num_blocks: int
    block_size: int
    eos_token_id: int | None = None

    def blocks_needed(self, num_tokens: int) -> int: return -(-num_tokens // self.block_size)

def eos_token_id(tokenizer, config_eos) -> int | None:
    "The end-of-sequence id: the tokenizer's, else the model config's first."
    if tokenizer is not None and tokenizer.eos_token_id is not None: return tokenizer.eos_token_id
    return config_eos[0] if isinstance(config_eos, (list, tuple)) else config_eos

# %% ../nbs/06_engine.ipynb #898c363a
def max_token_chars(tokenizer) -> int:
    "Characters in the longest token of the vocabulary (an upper bound on the text one token covers)."
    return max(len(t) for t in tokenizer.get_vocab()) if tokenizer is not None else 0

class InputProcessor:
    "Validates prompts and sampling parameters into `Request`s, with the tokenizer and the engine's limits."
    def __init__(self, tokenizer, limits: EngineLimits):
        self.tokenizer, self.limits = tokenizer, limits
        self.max_chars = limits.max_model_len * max(max_token_chars(tokenizer), 1)
        self._ids = itertools.count()

    def tokenize(self, prompt) -> list[int]:
        "Token ids of a prompt given as text or ids, validated."
        lim = self.limits
        if isinstance(prompt, str):
            if self.tokenizer is None: raise ValueError("this model has no tokenizer (dummy weights): pass prompts as token ids")
            if len(prompt) > self.max_chars:
                raise ValueError(f"the prompt ({len(prompt):,} characters) cannot fit the model's context of {lim.max_model_len} tokens")
            ids = self.tokenizer(prompt)['input_ids']
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt): ids = list(prompt)
        else: raise ValueError(f"a prompt must be a string or a list of token ids, not {type(prompt).__name__}")
        if not ids: raise ValueError("the prompt is empty")
        bad = [t for t in ids if not 0 <= t < lim.vocab_size]
        if bad: raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (0..{lim.vocab_size - 1})")
        return ids

    def check_fits(self, num_prompt: int, max_tokens: int):
        "Raise `ValueError` if a prompt of `num_prompt` tokens plus `max_tokens` could never run."
        lim, total = self.limits, num_prompt + max_tokens
        if total > lim.max_model_len:
            raise ValueError(f"prompt ({num_prompt} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of {lim.max_model_len} tokens")
        if lim.blocks_needed(total) > lim.num_blocks:
            raise ValueError(f"prompt plus max_tokens ({total} tokens) needs {lim.blocks_needed(total)} KV blocks; the pool has only {lim.num_blocks}")

    def make_request(self, prompt, params: SamplingParams | None = None, request_id: str | None = None, priority: int = 0) -> Request:
        "A validated `Request` for `prompt` (raises `ValueError` on bad input), not yet queued."
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams): raise ValueError("sampling_params must be SamplingParams")
        params.validate()
        ids = self.tokenize(prompt)
        self.check_fits(len(ids), params.max_tokens)
        return Request(request_id or str(next(self._ids)), tuple(ids), params, self.limits.eos_token_id, priority)

# %% ../nbs/06_engine.ipynb #f746dd3e
@dataclass
class _OutputState:
    "What the frontend keeps per request to build its outputs."
    request: Request
    prompt: str | None
    detok: IncrementalDetokenizer | None
    token_ids: list[int] = field(default_factory=list)
    text: str = ''
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None

class OutputProcessor:
    "Turns `TokenDelta`s into `RequestOutput`s: detokenizes, cuts at stop strings, keeps logprobs."
    def __init__(self, tokenizer): self.tokenizer, self.states = tokenizer, {}

    def add(self, req: Request, prompt: str | None = None):
        "Start keeping the output of a queued request."
        detok = IncrementalDetokenizer(self.tokenizer, req.params.skip_special_tokens) if self.tokenizer is not None else None
        self.states[req.request_id] = _OutputState(req, prompt, detok)

    def abort(self, request_id: str): self.states.pop(request_id, None)

    def process(self, deltas: list[TokenDelta]) -> tuple[list[RequestOutput], list[str]]:
        "The outputs of one step's deltas, and the ids of requests to finish in the core (stop string or error)."
        outs, to_finish = [], []
        for d in deltas:
            st = self.states.get(d.request_id)
            if st is None: continue                      # finished here already (stop string, abort): drop late tokens
            try: stopped = self._apply(st, d)
            except Exception as e: st.finish_reason, st.error, stopped = 'error', f'{type(e).__name__}: {e}', True
            if stopped: to_finish.append(d.request_id)
            outs.append(self._output(st))
            if st.finish_reason is not None: del self.states[d.request_id]
        return outs, to_finish

    def _apply(self, st: _OutputState, d: TokenDelta) -> bool:
        "Add one delta to a request's state; True if a stop string ended it here."
        st.token_ids += d.token_ids; st.logprobs += d.logprobs
        if d.error: st.error = d.error
        st.finish_reason = d.finish_reason
        p, new = st.request.params, d.token_ids
        if d.finish_reason == 'stop' and new and new[-1] == st.request.eos_token_id: new = new[:-1]   # EOS is not text
        for tok in new if st.detok is not None else ():
            piece = st.detok.add(tok)
            st.text = st.detok.text
            cut = find_stop(st.text, len(piece), p.stop) if piece and p.stop else None
            if cut is not None:
                st.text, st.finish_reason = st.text[:cut], 'stop'
                return d.finish_reason is None
        return False

    def _output(self, st: _OutputState) -> RequestOutput:
        "A snapshot of one request's output (text held back while it might be the start of a stop string)."
        r, done = st.request, st.finish_reason is not None
        text = st.text if done else st.text[:len(st.text) - held_back(st.text, r.params.stop)]
        comp = CompletionOutput(0, text, list(st.token_ids), st.finish_reason, list(st.logprobs) if r.params.logprobs is not None else None)
        return RequestOutput(r.request_id, st.prompt, r.prompt_token_ids, [comp], error=st.error)   # the tuple itself: no copy per step

# %% ../nbs/06_engine.ipynb #3512eea9
import itertools
from dataclasses import dataclass, field

from .scheduler import SamplingParams, Request
from .sampler import TokenLogprobs

# %% ../nbs/06_engine.ipynb #f7a294e6
class IncrementalDetokenizer:
    "Turns a growing list of token ids into text, never splitting a multi-byte character."
    def __init__(self, tokenizer, skip_special_tokens: bool = True):
        self.tok, self.skip = tokenizer, skip_special_tokens
        self.ids, self.prefix, self.read, self.text = [], 0, 0, ''

    def add(self, token_id: int) -> str:
        "Append one token; return the newly complete text (maybe empty)."
        self.ids.append(token_id)
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        now = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(now) <= len(before) or now.endswith('\ufffd'): return ''
        new = now[len(before):]
        self.prefix, self.read = self.read, len(self.ids)
        self.text += new
        return new

def find_stop(text: str, new_len: int, stops: list[str]) -> int | None:
    "Index where the earliest stop string starts, searching only where the last `new_len` characters could complete one."
    hits = [i for s in stops if (i := text.find(s, max(0, len(text) - new_len - len(s) + 1))) >= 0]
    return min(hits) if hits else None

def held_back(text: str, stops: list[str]) -> int:
    "Length of the longest tail of `text` that is a proper prefix of some stop string (not yet safe to show)."
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)

# %% ../nbs/06_engine.ipynb #b785aff4
@dataclass
class CompletionOutput:
    "One completion of a prompt."
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] | None = None

    @property
    def finished(self) -> bool: return self.finish_reason is not None

@dataclass
class RequestOutput:
    "A prompt and its completions so far (all of them once `finished`)."
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | tuple[int, ...]
    outputs: list[CompletionOutput]
    num_cached_tokens: int = 0
    error: str | None = None          # why the request failed, when its finish_reason is 'error'

    @property
    def finished(self) -> bool: return all(o.finished for o in self.outputs)

# %% ../nbs/06_engine.ipynb #5a05a63c
@dataclass
class TokenDelta:
    "What the engine core reports for one request after a step: its new token ids, and why it ended, if it did."
    request_id: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    error: str | None = None              # set when the core failed this request

@dataclass
class EngineLimits:
    "The numbers a frontend needs to validate requests without the model: vocabulary, context, KV pool."
    vocab_size: int
    max_model_len: int
    num_blocks: int
    block_size: int
    eos_token_id: int | None = None

    def blocks_needed(self, num_tokens: int) -> int: return -(-num_tokens // self.block_size)

def eos_token_id(tokenizer, config_eos) -> int | None:
    "The end-of-sequence id: the tokenizer's, else the model config's first."
    if tokenizer is not None and tokenizer.eos_token_id is not None: return tokenizer.eos_token_id
    return config_eos[0] if isinstance(config_eos, (list, tuple)) else config_eos

# %% ../nbs/06_engine.ipynb #898c363a
def max_token_chars(tokenizer) -> int:
    "Characters in the longest token of the vocabulary (an upper bound on the text one token covers)."
    return max(len(t) for t in tokenizer.get_vocab()) if tokenizer is not None else 0

def expand_n(params: SamplingParams) -> list[SamplingParams]:
    "`n` independent single-completion parameter sets; seeded ones get consecutive seeds."
    return [SamplingParams(**{**params.__dict__, 'n': 1, 'seed': None if params.seed is None else params.seed + i}) for i in range(params.n)]

class InputProcessor:
    "Validates prompts and sampling parameters into `Request`s, with the tokenizer and the engine's limits."
    def __init__(self, tokenizer, limits: EngineLimits):
        self.tokenizer, self.limits = tokenizer, limits
        self.max_chars = limits.max_model_len * max(max_token_chars(tokenizer), 1)
        self._ids = itertools.count()

    def tokenize(self, prompt) -> list[int]:
        "Token ids of a prompt given as text or ids, validated."
        lim = self.limits
        if isinstance(prompt, str):
            if self.tokenizer is None: raise ValueError("this model has no tokenizer (dummy weights): pass prompts as token ids")
            if len(prompt) > self.max_chars:
                raise ValueError(f"the prompt ({len(prompt):,} characters) cannot fit the model's context of {lim.max_model_len} tokens")
            ids = self.tokenizer(prompt)['input_ids']
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt): ids = list(prompt)
        else: raise ValueError(f"a prompt must be a string or a list of token ids, not {type(prompt).__name__}")
        if not ids: raise ValueError("the prompt is empty")
        bad = [t for t in ids if not 0 <= t < lim.vocab_size]
        if bad: raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (0..{lim.vocab_size - 1})")
        return ids

    def check_fits(self, num_prompt: int, max_tokens: int):
        "Raise `ValueError` if a prompt of `num_prompt` tokens plus `max_tokens` could never run."
        lim, total = self.limits, num_prompt + max_tokens
        if total > lim.max_model_len:
            raise ValueError(f"prompt ({num_prompt} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of {lim.max_model_len} tokens")
        if lim.blocks_needed(total) > lim.num_blocks:
            raise ValueError(f"prompt plus max_tokens ({total} tokens) needs {lim.blocks_needed(total)} KV blocks; the pool has only {lim.num_blocks}")

    def make_request(self, prompt, params: SamplingParams | None = None, request_id: str | None = None, priority: int = 0) -> Request:
        "A validated `Request` for `prompt` (raises `ValueError` on bad input), not yet queued."
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams): raise ValueError("sampling_params must be SamplingParams")
        params.validate()
        ids = self.tokenize(prompt)
        self.check_fits(len(ids), params.max_tokens)
        return Request(request_id or str(next(self._ids)), tuple(ids), params, self.limits.eos_token_id, priority)

# %% ../nbs/06_engine.ipynb #f746dd3e
@dataclass
class _OutputState:
    "What the frontend keeps per request to build its outputs."
    request: Request
    prompt: str | None
    detok: IncrementalDetokenizer | None
    token_ids: list[int] = field(default_factory=list)
    text: str = ''
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None

class OutputProcessor:
    "Turns `TokenDelta`s into `RequestOutput`s: detokenizes, cuts at stop strings, keeps logprobs."
    def __init__(self, tokenizer): self.tokenizer, self.states = tokenizer, {}

    def add(self, req: Request, prompt: str | None = None):
        "Start keeping the output of a queued request."
        detok = IncrementalDetokenizer(self.tokenizer, req.params.skip_special_tokens) if self.tokenizer is not None else None
        self.states[req.request_id] = _OutputState(req, prompt, detok)

    def abort(self, request_id: str): self.states.pop(request_id, None)

    def process(self, deltas: list[TokenDelta]) -> tuple[list[RequestOutput], dict[str, str]]:
        "The outputs of one step's deltas, and the requests to finish in the core, with why (stop string or error)."
        outs, to_finish = [], {}
        for d in deltas:
            st = self.states.get(d.request_id)
            if st is None: continue                      # finished here already (stop string, abort): drop late tokens
            try: stopped = self._apply(st, d)
            except Exception as e: st.finish_reason, st.error, stopped = 'error', f'{type(e).__name__}: {e}', True
            if stopped: to_finish[d.request_id] = st.finish_reason
            outs.append(self._output(st))
            if st.finish_reason is not None: del self.states[d.request_id]
        return outs, to_finish

    def _apply(self, st: _OutputState, d: TokenDelta) -> bool:
        "Add one delta to a request's state; True if a stop string ended it here."
        st.token_ids += d.token_ids; st.logprobs += d.logprobs
        if d.error: st.error = d.error
        st.finish_reason = d.finish_reason
        p, new = st.request.params, d.token_ids
        if d.finish_reason == 'stop' and new and new[-1] == st.request.eos_token_id: new = new[:-1]   # EOS is not text
        for tok in new if st.detok is not None else ():
            piece = st.detok.add(tok)
            st.text = st.detok.text
            cut = find_stop(st.text, len(piece), p.stop) if piece and p.stop else None
            if cut is not None:
                st.text, st.finish_reason = st.text[:cut], 'stop'
                return d.finish_reason is None
        return False

    def _output(self, st: _OutputState) -> RequestOutput:
        "A snapshot of one request's output (text held back while it might be the start of a stop string)."
        r, done = st.request, st.finish_reason is not None
        text = st.text if done else st.text[:len(st.text) - held_back(st.text, r.params.stop)]
        comp = CompletionOutput(0, text, list(st.token_ids), st.finish_reason, list(st.logprobs) if r.params.logprobs is not None else None)
        return RequestOutput(r.request_id, st.prompt, r.prompt_token_ids, [comp], error=st.error)   # the tuple itself: no copy per step

# %% ../nbs/06_engine.ipynb #3512eea9
import itertools
from dataclasses import dataclass, field

from .scheduler import SamplingParams, Request
from .sampler import TokenLogprobs

# %% ../nbs/06_engine.ipynb #f7a294e6
class IncrementalDetokenizer:
    "Turns a growing list of token ids into text, never splitting a multi-byte character."
    def __init__(self, tokenizer, skip_special_tokens: bool = True):
        self.tok, self.skip = tokenizer, skip_special_tokens
        self.ids, self.prefix, self.read, self.text = [], 0, 0, ''

    def add(self, token_id: int) -> str:
        "Append one token; return the newly complete text (maybe empty)."
        self.ids.append(token_id)
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        now = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(now) <= len(before) or now.endswith('\ufffd'): return ''
        new = now[len(before):]
        self.prefix, self.read = self.read, len(self.ids)
        self.text += new
        return new

def find_stop(text: str, new_len: int, stops: list[str]) -> int | None:
    "Index where the earliest stop string starts, searching only where the last `new_len` characters could complete one."
    hits = [i for s in stops if (i := text.find(s, max(0, len(text) - new_len - len(s) + 1))) >= 0]
    return min(hits) if hits else None

def held_back(text: str, stops: list[str]) -> int:
    "Length of the longest tail of `text` that is a proper prefix of some stop string (not yet safe to show)."
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)

# %% ../nbs/06_engine.ipynb #b785aff4
@dataclass
class CompletionOutput:
    "One completion of a prompt."
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] | None = None

    @property
    def finished(self) -> bool: return self.finish_reason is not None

@dataclass
class RequestOutput:
    "A prompt and its completions so far (all of them once `finished`)."
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | tuple[int, ...]
    outputs: list[CompletionOutput]
    num_cached_tokens: int = 0
    error: str | None = None          # why the request failed, when its finish_reason is 'error'

    @property
    def finished(self) -> bool: return all(o.finished for o in self.outputs)

# %% ../nbs/06_engine.ipynb #5a05a63c
@dataclass
class TokenDelta:
    "What the engine core reports for one request after a step: its new token ids, and why it ended, if it did."
    request_id: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    error: str | None = None              # set when the core failed this request

@dataclass
class EngineLimits:
    "The numbers a frontend needs to validate requests without the model: vocabulary, context, KV pool."
    vocab_size: int
    max_model_len: int
    num_blocks: int
    block_size: int
    eos_token_id: int | None = None

    def blocks_needed(self, num_tokens: int) -> int: return -(-num_tokens // self.block_size)

def eos_token_id(tokenizer, config_eos) -> int | None:
    "The end-of-sequence id: the tokenizer's, else the model config's first."
    if tokenizer is not None and tokenizer.eos_token_id is not None: return tokenizer.eos_token_id
    return config_eos[0] if isinstance(config_eos, (list, tuple)) else config_eos

# %% ../nbs/06_engine.ipynb #898c363a
def max_token_chars(tokenizer) -> int:
    "Characters in the longest token of the vocabulary (an upper bound on the text one token covers)."
    return max(len(t) for t in tokenizer.get_vocab()) if tokenizer is not None else 0

def expand_n(params: SamplingParams) -> list[SamplingParams]:
    "`n` independent single-completion parameter sets; seeded ones get consecutive seeds."
    return [SamplingParams(**{**params.__dict__, 'n': 1, 'seed': None if params.seed is None else params.seed + i}) for i in range(params.n)]

class InputProcessor:
    "Validates prompts and sampling parameters into `Request`s, with the tokenizer and the engine's limits."
    def __init__(self, tokenizer, limits: EngineLimits):
        self.tokenizer, self.limits = tokenizer, limits
        self.max_chars = limits.max_model_len * max(max_token_chars(tokenizer), 1)
        self._ids = itertools.count()

    def tokenize(self, prompt) -> list[int]:
        "Token ids of a prompt given as text or ids, validated."
        lim = self.limits
        if isinstance(prompt, str):
            if self.tokenizer is None: raise ValueError("this model has no tokenizer (dummy weights): pass prompts as token ids")
            if len(prompt) > self.max_chars:
                raise ValueError(f"the prompt ({len(prompt):,} characters) cannot fit the model's context of {lim.max_model_len} tokens")
            ids = self.tokenizer(prompt)['input_ids']
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt): ids = list(prompt)
        else: raise ValueError(f"a prompt must be a string or a list of token ids, not {type(prompt).__name__}")
        if not ids: raise ValueError("the prompt is empty")
        bad = [t for t in ids if not 0 <= t < lim.vocab_size]
        if bad: raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (0..{lim.vocab_size - 1})")
        return ids

    def check_fits(self, num_prompt: int, max_tokens: int):
        "Raise `ValueError` if a prompt of `num_prompt` tokens plus `max_tokens` could never run."
        lim, total = self.limits, num_prompt + max_tokens
        if total > lim.max_model_len:
            raise ValueError(f"prompt ({num_prompt} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of {lim.max_model_len} tokens")
        if lim.blocks_needed(total) > lim.num_blocks:
            raise ValueError(f"prompt plus max_tokens ({total} tokens) needs {lim.blocks_needed(total)} KV blocks; the pool has only {lim.num_blocks}")

    def make_request(self, prompt, params: SamplingParams | None = None, request_id: str | None = None, priority: int = 0) -> Request:
        "A validated `Request` for `prompt` (raises `ValueError` on bad input), not yet queued."
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams): raise ValueError("sampling_params must be SamplingParams")
        params.validate()
        ids = self.tokenize(prompt)
        self.check_fits(len(ids), params.max_tokens)
        return Request(request_id or str(next(self._ids)), tuple(ids), params, self.limits.eos_token_id, priority)

# %% ../nbs/06_engine.ipynb #f746dd3e
@dataclass
class _OutputState:
    "What the frontend keeps per request to build its outputs."
    request: Request
    prompt: str | None
    detok: IncrementalDetokenizer | None
    token_ids: list[int] = field(default_factory=list)
    text: str = ''
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None

class OutputProcessor:
    "Turns `TokenDelta`s into `RequestOutput`s: detokenizes, cuts at stop strings, keeps logprobs."
    def __init__(self, tokenizer): self.tokenizer, self.states = tokenizer, {}

    def add(self, req: Request, prompt: str | None = None):
        "Start keeping the output of a queued request."
        detok = IncrementalDetokenizer(self.tokenizer, req.params.skip_special_tokens) if self.tokenizer is not None else None
        self.states[req.request_id] = _OutputState(req, prompt, detok)

    def abort(self, request_id: str): self.states.pop(request_id, None)

    def process(self, deltas: list[TokenDelta]) -> tuple[list[RequestOutput], dict[str, str]]:
        "The outputs of one step's deltas, and the requests to finish in the core, with why (stop string or error)."
        outs, to_finish = [], {}
        for d in deltas:
            st = self.states.get(d.request_id)
            if st is None: continue                      # finished here already (stop string, abort): drop late tokens
            try: stopped = self._apply(st, d)
            except Exception as e: st.finish_reason, st.error, stopped = 'error', f'{type(e).__name__}: {e}', True
            if stopped: to_finish[d.request_id] = st.finish_reason
            outs.append(self._output(st))
            if st.finish_reason is not None: del self.states[d.request_id]
        return outs, to_finish

    def _apply(self, st: _OutputState, d: TokenDelta) -> bool:
        "Add one delta to a request's state; True if a stop string ended it here."
        st.token_ids += d.token_ids; st.logprobs += d.logprobs
        if d.error: st.error = d.error
        st.finish_reason = d.finish_reason
        p, new = st.request.params, d.token_ids
        if d.finish_reason == 'stop' and new and new[-1] == st.request.eos_token_id: new = new[:-1]   # EOS is not text
        for tok in new if st.detok is not None else ():
            piece = st.detok.add(tok)
            st.text = st.detok.text
            cut = find_stop(st.text, len(piece), p.stop) if piece and p.stop else None
            if cut is not None:
                st.text, st.finish_reason = st.text[:cut], 'stop'
                return d.finish_reason is None
        return False

    def _output(self, st: _OutputState) -> RequestOutput:
        "A snapshot of one request's output (text held back while it might be the start of a stop string)."
        r, done = st.request, st.finish_reason is not None
        text = st.text if done else st.text[:len(st.text) - held_back(st.text, r.params.stop)]
        comp = CompletionOutput(0, text, list(st.token_ids), st.finish_reason, list(st.logprobs) if r.params.logprobs is not None else None)
        return RequestOutput(r.request_id, st.prompt, r.prompt_token_ids, [comp], error=st.error)   # the tuple itself: no copy per step

# %% ../nbs/06_engine.ipynb #3512eea9
import itertools
from dataclasses import dataclass, field

from .scheduler import SamplingParams, Request
from .sampler import TokenLogprobs

# %% ../nbs/06_engine.ipynb #f7a294e6
class IncrementalDetokenizer:
    "Turns a growing list of token ids into text, never splitting a multi-byte character."
    def __init__(self, tokenizer, skip_special_tokens: bool = True):
        self.tok, self.skip = tokenizer, skip_special_tokens
        self.ids, self.prefix, self.read, self.text = [], 0, 0, ''

    def add(self, token_id: int) -> str:
        "Append one token; return the newly complete text (maybe empty)."
        self.ids.append(token_id)
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        now = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(now) <= len(before) or now.endswith('\ufffd'): return ''
        new = now[len(before):]
        self.prefix, self.read = self.read, len(self.ids)
        self.text += new
        return new

def find_stop(text: str, new_len: int, stops: list[str]) -> int | None:
    "Index where the earliest stop string starts, searching only where the last `new_len` characters could complete one."
    hits = [i for s in stops if (i := text.find(s, max(0, len(text) - new_len - len(s) + 1))) >= 0]
    return min(hits) if hits else None

def held_back(text: str, stops: list[str]) -> int:
    "Length of the longest tail of `text` that is a proper prefix of some stop string (not yet safe to show)."
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)

# %% ../nbs/06_engine.ipynb #b785aff4
@dataclass
class CompletionOutput:
    "One completion of a prompt."
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] | None = None

    @property
    def finished(self) -> bool: return self.finish_reason is not None

@dataclass
class RequestOutput:
    "A prompt and its completions so far (all of them once `finished`)."
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | tuple[int, ...]
    outputs: list[CompletionOutput]
    num_cached_tokens: int = 0
    error: str | None = None          # why the request failed, when its finish_reason is 'error'

    @property
    def finished(self) -> bool: return all(o.finished for o in self.outputs)

# %% ../nbs/06_engine.ipynb #5a05a63c
@dataclass
class TokenDelta:
    "What the engine core reports for one request after a step: its new token ids, and why it ended, if it did."
    request_id: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    error: str | None = None              # set when the core failed this request

@dataclass
class EngineLimits:
    "The numbers a frontend needs to validate requests without the model: vocabulary, context, KV pool."
    vocab_size: int
    max_model_len: int
    num_blocks: int
    block_size: int
    eos_token_id: int | None = None

    def blocks_needed(self, num_tokens: int) -> int: return -(-num_tokens // self.block_size)

def eos_token_id(tokenizer, config_eos) -> int | None:
    "The end-of-sequence id: the tokenizer's, else the model config's first."
    if tokenizer is not None and tokenizer.eos_token_id is not None: return tokenizer.eos_token_id
    return config_eos[0] if isinstance(config_eos, (list, tuple)) else config_eos

# %% ../nbs/06_engine.ipynb #898c363a
def max_token_chars(tokenizer) -> int:
    "Characters in the longest token of the vocabulary (an upper bound on the text one token covers)."
    return max(len(t) for t in tokenizer.get_vocab()) if tokenizer is not None else 0

def expand_n(params: SamplingParams) -> list[SamplingParams]:
    "`n` independent single-completion parameter sets; seeded ones get consecutive seeds."
    return [SamplingParams(**{**params.__dict__, 'n': 1, 'seed': None if params.seed is None else params.seed + i}) for i in range(params.n)]

class InputProcessor:
    "Validates prompts and sampling parameters into `Request`s, with the tokenizer and the engine's limits."
    def __init__(self, tokenizer, limits: EngineLimits):
        self.tokenizer, self.limits = tokenizer, limits
        self.max_chars = limits.max_model_len * max(max_token_chars(tokenizer), 1)
        self._ids = itertools.count()

    def tokenize(self, prompt) -> list[int]:
        "Token ids of a prompt given as text or ids, validated."
        lim = self.limits
        if isinstance(prompt, str):
            if self.tokenizer is None: raise ValueError("this model has no tokenizer (dummy weights): pass prompts as token ids")
            if len(prompt) > self.max_chars:
                raise ValueError(f"the prompt ({len(prompt):,} characters) cannot fit the model's context of {lim.max_model_len} tokens")
            ids = self.tokenizer(prompt)['input_ids']
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt): ids = list(prompt)
        else: raise ValueError(f"a prompt must be a string or a list of token ids, not {type(prompt).__name__}")
        if not ids: raise ValueError("the prompt is empty")
        bad = [t for t in ids if not 0 <= t < lim.vocab_size]
        if bad: raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (0..{lim.vocab_size - 1})")
        return ids

    def check_fits(self, num_prompt: int, max_tokens: int):
        "Raise `ValueError` if a prompt of `num_prompt` tokens plus `max_tokens` could never run."
        lim, total = self.limits, num_prompt + max_tokens
        if total > lim.max_model_len:
            raise ValueError(f"prompt ({num_prompt} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of {lim.max_model_len} tokens")
        if lim.blocks_needed(total) > lim.num_blocks:
            raise ValueError(f"prompt plus max_tokens ({total} tokens) needs {lim.blocks_needed(total)} KV blocks; the pool has only {lim.num_blocks}")

    def make_request(self, prompt, params: SamplingParams | None = None, request_id: str | None = None, priority: int = 0) -> Request:
        "A validated `Request` for `prompt` (raises `ValueError` on bad input), not yet queued."
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams): raise ValueError("sampling_params must be SamplingParams")
        params.validate()
        ids = self.tokenize(prompt)
        self.check_fits(len(ids), params.max_tokens)
        return Request(request_id or str(next(self._ids)), tuple(ids), params, self.limits.eos_token_id, priority)

# %% ../nbs/06_engine.ipynb #f746dd3e
@dataclass
class _OutputState:
    "What the frontend keeps per request to build its outputs."
    request: Request
    prompt: str | None
    detok: IncrementalDetokenizer | None
    token_ids: list[int] = field(default_factory=list)
    text: str = ''
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None

class OutputProcessor:
    "Turns `TokenDelta`s into `RequestOutput`s: detokenizes, cuts at stop strings, keeps logprobs."
    def __init__(self, tokenizer): self.tokenizer, self.states = tokenizer, {}

    def add(self, req: Request, prompt: str | None = None):
        "Start keeping the output of a queued request."
        detok = IncrementalDetokenizer(self.tokenizer, req.params.skip_special_tokens) if self.tokenizer is not None else None
        self.states[req.request_id] = _OutputState(req, prompt, detok)

    def abort(self, request_id: str): self.states.pop(request_id, None)

    def process(self, deltas: list[TokenDelta]) -> tuple[list[RequestOutput], dict[str, str]]:
        "The outputs of one step's deltas, and the requests to finish in the core, with why (stop string or error)."
        outs, to_finish = [], {}
        for d in deltas:
            st = self.states.get(d.request_id)
            if st is None: continue                      # finished here already (stop string, abort): drop late tokens
            try: stopped = self._apply(st, d)
            except Exception as e: st.finish_reason, st.error, stopped = 'error', f'{type(e).__name__}: {e}', True
            if stopped: to_finish[d.request_id] = st.finish_reason
            outs.append(self._output(st))
            if st.finish_reason is not None: del self.states[d.request_id]
        return outs, to_finish

    def _apply(self, st: _OutputState, d: TokenDelta) -> bool:
        "Add one delta to a request's state; True if a stop string ended it here."
        st.token_ids += d.token_ids; st.logprobs += d.logprobs
        if d.error: st.error = d.error
        st.finish_reason = d.finish_reason
        p, new = st.request.params, d.token_ids
        if d.finish_reason == 'stop' and new and new[-1] == st.request.eos_token_id: new = new[:-1]   # EOS is not text
        for tok in new if st.detok is not None else ():
            piece = st.detok.add(tok)
            st.text = st.detok.text
            cut = find_stop(st.text, len(piece), p.stop) if piece and p.stop else None
            if cut is not None:
                st.text, st.finish_reason = st.text[:cut], 'stop'
                return d.finish_reason is None
        return False

    def _output(self, st: _OutputState) -> RequestOutput:
        "A snapshot of one request's output (text held back while it might be the start of a stop string)."
        r, done = st.request, st.finish_reason is not None
        text = st.text if done else st.text[:len(st.text) - held_back(st.text, r.params.stop)]
        comp = CompletionOutput(0, text, list(st.token_ids), st.finish_reason, list(st.logprobs) if r.params.logprobs is not None else None)
        return RequestOutput(r.request_id, st.prompt, r.prompt_token_ids, [comp], error=st.error)   # the tuple itself: no copy per step

# %% ../nbs/06_engine.ipynb #3512eea9
import itertools
from dataclasses import dataclass, field

from .scheduler import SamplingParams, Request
from .sampler import TokenLogprobs

# %% ../nbs/06_engine.ipynb #f7a294e6
class IncrementalDetokenizer:
    "Turns a growing list of token ids into text, never splitting a multi-byte character."
    def __init__(self, tokenizer, skip_special_tokens: bool = True):
        self.tok, self.skip = tokenizer, skip_special_tokens
        self.ids, self.prefix, self.read, self.text = [], 0, 0, ''

    def add(self, token_id: int) -> str:
        "Append one token; return the newly complete text (maybe empty)."
        self.ids.append(token_id)
        before = self.tok.decode(self.ids[self.prefix:self.read], skip_special_tokens=self.skip)
        now = self.tok.decode(self.ids[self.prefix:], skip_special_tokens=self.skip)
        if len(now) <= len(before) or now.endswith('\ufffd'): return ''
        new = now[len(before):]
        self.prefix, self.read = self.read, len(self.ids)
        self.text += new
        return new

def find_stop(text: str, new_len: int, stops: list[str]) -> int | None:
    "Index where the earliest stop string starts, searching only where the last `new_len` characters could complete one."
    hits = [i for s in stops if (i := text.find(s, max(0, len(text) - new_len - len(s) + 1))) >= 0]
    return min(hits) if hits else None

def held_back(text: str, stops: list[str]) -> int:
    "Length of the longest tail of `text` that is a proper prefix of some stop string (not yet safe to show)."
    return max((k for s in stops for k in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:k])), default=0)

# %% ../nbs/06_engine.ipynb #b785aff4
@dataclass
class CompletionOutput:
    "One completion of a prompt."
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] | None = None

    @property
    def finished(self) -> bool: return self.finish_reason is not None

@dataclass
class RequestOutput:
    "A prompt and its completions so far (all of them once `finished`)."
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | tuple[int, ...]
    outputs: list[CompletionOutput]
    num_cached_tokens: int = 0
    error: str | None = None          # why the request failed, when its finish_reason is 'error'

    @property
    def finished(self) -> bool: return all(o.finished for o in self.outputs)

# %% ../nbs/06_engine.ipynb #5a05a63c
@dataclass
class TokenDelta:
    "What the engine core reports for one request after a step: its new token ids, and why it ended, if it did."
    request_id: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    error: str | None = None              # set when the core failed this request

@dataclass
class EngineLimits:
    "The numbers a frontend needs to validate requests without the model: vocabulary, context, KV pool."
    vocab_size: int
    max_model_len: int
    num_blocks: int
    block_size: int
    eos_token_id: int | None = None

    def blocks_needed(self, num_tokens: int) -> int: return -(-num_tokens // self.block_size)

def eos_token_id(tokenizer, config_eos) -> int | None:
    "The end-of-sequence id: the tokenizer's, else the model config's first."
    if tokenizer is not None and tokenizer.eos_token_id is not None: return tokenizer.eos_token_id
    return config_eos[0] if isinstance(config_eos, (list, tuple)) else config_eos

# %% ../nbs/06_engine.ipynb #898c363a
def max_token_chars(tokenizer) -> int:
    "Characters in the longest token of the vocabulary (an upper bound on the text one token covers)."
    return max(len(t) for t in tokenizer.get_vocab()) if tokenizer is not None else 0

def expand_n(params: SamplingParams) -> list[SamplingParams]:
    "`n` independent single-completion parameter sets; seeded ones get consecutive seeds."
    return [SamplingParams(**{**params.__dict__, 'n': 1, 'seed': None if params.seed is None else params.seed + i}) for i in range(params.n)]

class InputProcessor:
    "Validates prompts and sampling parameters into `Request`s, with the tokenizer and the engine's limits."
    def __init__(self, tokenizer, limits: EngineLimits):
        self.tokenizer, self.limits = tokenizer, limits
        self.max_chars = limits.max_model_len * max(max_token_chars(tokenizer), 1)
        self._ids = itertools.count()

    def tokenize(self, prompt) -> list[int]:
        "Token ids of a prompt given as text or ids, validated."
        lim = self.limits
        if isinstance(prompt, str):
            if self.tokenizer is None: raise ValueError("this model has no tokenizer (dummy weights): pass prompts as token ids")
            if len(prompt) > self.max_chars:
                raise ValueError(f"the prompt ({len(prompt):,} characters) cannot fit the model's context of {lim.max_model_len} tokens")
            ids = self.tokenizer(prompt)['input_ids']
        elif isinstance(prompt, (list, tuple)) and all(isinstance(t, int) for t in prompt): ids = list(prompt)
        else: raise ValueError(f"a prompt must be a string or a list of token ids, not {type(prompt).__name__}")
        if not ids: raise ValueError("the prompt is empty")
        bad = [t for t in ids if not 0 <= t < lim.vocab_size]
        if bad: raise ValueError(f"token ids {bad[:5]} are outside the vocabulary (0..{lim.vocab_size - 1})")
        return ids

    def check_fits(self, num_prompt: int, max_tokens: int):
        "Raise `ValueError` if a prompt of `num_prompt` tokens plus `max_tokens` could never run."
        lim, total = self.limits, num_prompt + max_tokens
        if total > lim.max_model_len:
            raise ValueError(f"prompt ({num_prompt} tokens) plus max_tokens ({max_tokens}) exceeds the model's context of {lim.max_model_len} tokens")
        if lim.blocks_needed(total) > lim.num_blocks:
            raise ValueError(f"prompt plus max_tokens ({total} tokens) needs {lim.blocks_needed(total)} KV blocks; the pool has only {lim.num_blocks}")

    def make_request(self, prompt, params: SamplingParams | None = None, request_id: str | None = None, priority: int = 0) -> Request:
        "A validated `Request` for `prompt` (raises `ValueError` on bad input), not yet queued."
        params = params or SamplingParams()
        if not isinstance(params, SamplingParams): raise ValueError("sampling_params must be SamplingParams")
        params.validate()
        ids = self.tokenize(prompt)
        self.check_fits(len(ids), params.max_tokens)
        return Request(request_id or str(next(self._ids)), tuple(ids), params, self.limits.eos_token_id, priority)

# %% ../nbs/06_engine.ipynb #f746dd3e
@dataclass
class _OutputState:
    "What the frontend keeps per request to build its outputs."
    request: Request
    prompt: str | None
    detok: IncrementalDetokenizer | None
    token_ids: list[int] = field(default_factory=list)
    text: str = ''
    logprobs: list = field(default_factory=list)
    finish_reason: str | None = None
    error: str | None = None

class OutputProcessor:
    "Turns `TokenDelta`s into `RequestOutput`s: detokenizes, cuts at stop strings, keeps logprobs."
    def __init__(self, tokenizer): self.tokenizer, self.states = tokenizer, {}

    def add(self, req: Request, prompt: str | None = None):
        "Start keeping the output of a queued request."
        detok = IncrementalDetokenizer(self.tokenizer, req.params.skip_special_tokens) if self.tokenizer is not None else None
        self.states[req.request_id] = _OutputState(req, prompt, detok)

    def abort(self, request_id: str): self.states.pop(request_id, None)

    def process(self, deltas: list[TokenDelta]) -> tuple[list[RequestOutput], dict[str, str]]:
        "The outputs of one step's deltas, and the requests to finish in the core, with why (stop string or error)."
        outs, to_finish = [], {}
        for d in deltas:
            st = self.states.get(d.request_id)
            if st is None: continue                      # finished here already (stop string, abort): drop late tokens
            try: stopped = self._apply(st, d)
            except Exception as e: st.finish_reason, st.error, stopped = 'error', f'{type(e).__name__}: {e}', True
            if stopped: to_finish[d.request_id] = st.finish_reason
            outs.append(self._output(st))
            if st.finish_reason is not None: del self.states[d.request_id]
        return outs, to_finish

    def _apply(self, st: _OutputState, d: TokenDelta) -> bool:
        "Add one delta to a request's state; True if a stop string ended it here."
        st.token_ids += d.token_ids; st.logprobs += d.logprobs
        if d.error: st.error = d.error
        st.finish_reason = d.finish_reason
        p, new = st.request.params, d.token_ids
        if d.finish_reason == 'stop' and new and new[-1] == st.request.eos_token_id: new = new[:-1]   # EOS is not text
        for tok in new if st.detok is not None else ():
            piece = st.detok.add(tok)
            st.text = st.detok.text
            cut = find_stop(st.text, len(piece), p.stop) if piece and p.stop else None
            if cut is not None:
                st.text, st.finish_reason = st.text[:cut], 'stop'
                return d.finish_reason is None
        return False

    def _output(self, st: _OutputState) -> RequestOutput:
        "A snapshot of one request's output (text held back while it might be the start of a stop string)."
        r, done = st.request, st.finish_reason is not None
        text = st.text if done else st.text[:len(st.text) - held_back(st.text, r.params.stop)]
        comp = CompletionOutput(0, text, list(st.token_ids), st.finish_reason, list(st.logprobs) if r.params.logprobs is not None else None)
        return RequestOutput(r.request_id, st.prompt, r.prompt_token_ids, [comp], error=st.error)   # the tuple itself: no copy per step