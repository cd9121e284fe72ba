# %% auto #0
__all__ = ['BUCKETS', 'HISTOGRAMS', 'StepRecord', 'Histogram', 'Metrics', 'BUCKETS', 'HISTOGRAMS', 'StepRecord', 'Histogram', 'Metrics', 'BUCKETS', 'HISTOGRAMS', 'StepRecord', 'Histogram', 'Metrics', 'BUCKETS', 'HISTOGRAMS', 'hardware_stats', 'StepRecord', 'Histogram', 'Metrics', 'BUCKETS', 'HISTOGRAMS', 'hardware_stats', 'StepRecord', 'Histogram', 'Metrics']

# %% ../nbs/06_engine.ipynb #ed04e469
import copy, threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .scheduler import Request

# %% ../nbs/06_engine.ipynb #055644a2
@dataclass
class StepRecord:
    "What happened in one engine step."
    time: float
    schedule_s: float
    forward_s: float
    sample_s: float
    prefill_tokens: int
    decode_tokens: int
    num_seqs: int
    num_running: int
    num_waiting: int
    num_swapped: int
    kv_blocks_used: int
    preempted: int
    draft_tokens: int = 0
    accepted_tokens: int = 0

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)

@dataclass
class Histogram:
    "Cumulative counts of observations per upper bound, as Prometheus histograms are kept."
    buckets: tuple = BUCKETS
    counts: list = None           # one per bucket, plus +Inf
    total: float = 0.0
    n: int = 0

    def __post_init__(self): self.counts = self.counts or [0] * (len(self.buckets) + 1)
    def observe(self, v: float):
        "Count one value."
        self.counts[next((i for i, b in enumerate(self.buckets) if v <= b), len(self.buckets))] += 1
        self.total += v; self.n += 1

HISTOGRAMS = ('time_to_first_token_seconds', 'time_per_output_token_seconds', 'inter_token_latency_seconds',
              'e2e_request_latency_seconds', 'request_queue_time_seconds', 'step_prefill_seconds', 'step_decode_seconds',
              'step_schedule_seconds')

@dataclass
class Metrics:
    "Counters, histograms and recent histories from every layer, for stats(), /metrics and the dashboard."
    steps: deque = field(default_factory=lambda: deque(maxlen=2000))            # recent StepRecords
    finished: deque = field(default_factory=lambda: deque(maxlen=2000))         # (time, ttft, tpot) of recent requests
    counters: Counter = field(default_factory=Counter)                          # totals: tokens, steps, requests, ...
    finish_reasons: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=lambda: {k: Histogram() for k in HISTOGRAMS})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)   # readers live in other threads

    def record_step(self, rec: StepRecord):
        "Add one step's record to the histories, totals and step-time histograms."
        with self.lock:
            self.steps.append(rec)
            c = self.counters
            c['steps'] += 1; c['prefill_tokens'] += rec.prefill_tokens; c['decode_tokens'] += rec.decode_tokens
            c['schedule_seconds'] += rec.schedule_s; c['forward_seconds'] += rec.forward_s; c['sample_seconds'] += rec.sample_s
            c['draft_tokens'] += rec.draft_tokens; c['accepted_tokens'] += rec.accepted_tokens
            self.hists['step_prefill_seconds' if rec.prefill_tokens else 'step_decode_seconds'].observe(rec.forward_s + rec.sample_s)
            self.hists['step_schedule_seconds'].observe(rec.schedule_s)

    def record_token_gap(self, seconds: float, n: int = 1):
        "Inter-token latency of a request, for each of `n` tokens that arrived together."
        with self.lock:
            for _ in range(n): self.hists['inter_token_latency_seconds'].observe(seconds)

    def record_finished(self, req: Request):
        "Add a finished request's latencies and token counts."
        with self.lock:
            self.finish_reasons[req.finish_reason] += 1
            c = self.counters
            c['requests_finished'] += 1; c['prompt_tokens'] += len(req.prompt_token_ids); c['generation_tokens'] += len(req.output_token_ids)
            h = self.hists
            if req.first_scheduled_time: h['request_queue_time_seconds'].observe(req.first_scheduled_time - req.arrival_time)
            if req.first_token_time is None: return
            ttft, n = req.first_token_time - req.arrival_time, len(req.output_token_ids)
            tpot = (req.finished_time - req.first_token_time) / (n - 1) if n > 1 else None
            h['time_to_first_token_seconds'].observe(ttft); h['e2e_request_latency_seconds'].observe(req.finished_time - req.arrival_time)
            if tpot is not None: h['time_per_output_token_seconds'].observe(tpot)
            self.finished.append((req.finished_time, ttft, tpot))

    def snapshot(self) -> dict:
        "A consistent copy of everything, for readers in other threads."
        with self.lock:
            return dict(steps=list(self.steps), finished=list(self.finished), counters=Counter(self.counters),
                        finish_reasons=Counter(self.finish_reasons), hists=copy.deepcopy(self.hists))

# %% ../nbs/06_engine.ipynb #ed04e469
import copy, threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .scheduler import Request

# %% ../nbs/06_engine.ipynb #055644a2
@dataclass
class StepRecord:
    "What happened in one engine step."
    time: float
    schedule_s: float
    forward_s: float
    sample_s: float
    prefill_tokens: int
    decode_tokens: int
    num_seqs: int
    num_running: int
    num_waiting: int
    num_swapped: int
    kv_blocks_used: int
    preempted: int
    draft_tokens: int = 0
    accepted_tokens: int = 0

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)

@dataclass
class Histogram:
    "Cumulative counts of observations per upper bound, as Prometheus histograms are kept."
    buckets: tuple = BUCKETS
    counts: list = None           # one per bucket, plus +Inf
    total: float = 0.0
    n: int = 0

    def __post_init__(self): self.counts = self.counts or [0] * (len(self.buckets) + 1)
    def observe(self, v: float):
        "Count one value."
        self.counts[next((i for i, b in enumerate(self.buckets) if v <= b), len(self.buckets))] += 1
        self.total += v; self.n += 1

HISTOGRAMS = ('time_to_first_token_seconds', 'time_per_output_token_seconds', 'inter_token_latency_seconds',
              'e2e_request_latency_seconds', 'request_queue_time_seconds', 'step_prefill_seconds', 'step_decode_seconds',
              'step_schedule_seconds')

@dataclass
class Metrics:
    "Counters, histograms and recent histories from every layer, for stats(), /metrics and the dashboard."
    steps: deque = field(default_factory=lambda: deque(maxlen=2000))            # recent StepRecords
    finished: deque = field(default_factory=lambda: deque(maxlen=2000))         # (time, ttft, tpot) of recent requests
    counters: Counter = field(default_factory=Counter)                          # totals: tokens, steps, requests, ...
    finish_reasons: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=lambda: {k: Histogram() for k in HISTOGRAMS})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)   # readers live in other threads

    def record_step(self, rec: StepRecord):
        "Add one step's record to the histories, totals and step-time histograms."
        with self.lock:
            self.steps.append(rec)
            c = self.counters
            c['steps'] += 1; c['prefill_tokens'] += rec.prefill_tokens; c['decode_tokens'] += rec.decode_tokens
            c['schedule_seconds'] += rec.schedule_s; c['forward_seconds'] += rec.forward_s; c['sample_seconds'] += rec.sample_s
            c['draft_tokens'] += rec.draft_tokens; c['accepted_tokens'] += rec.accepted_tokens
            self.hists['step_prefill_seconds' if rec.prefill_tokens else 'step_decode_seconds'].observe(rec.forward_s + rec.sample_s)
            self.hists['step_schedule_seconds'].observe(rec.schedule_s)

    def record_token_gap(self, seconds: float, n: int = 1):
        "Inter-token latency of a request, for each of `n` tokens that arrived together."
        with self.lock:
            for _ in range(n): self.hists['inter_token_latency_seconds'].observe(seconds)

    def record_finished(self, req: Request):
        "Add a finished request's latencies and token counts."
        with self.lock:
            self.finish_reasons[req.finish_reason] += 1
            c = self.counters
            c['requests_finished'] += 1; c['prompt_tokens'] += len(req.prompt_token_ids); c['generation_tokens'] += len(req.output_token_ids)
            h = self.hists
            if req.first_scheduled_time: h['request_queue_time_seconds'].observe(req.first_scheduled_time - req.arrival_time)
            if req.first_token_time is None: return
            ttft, n = req.first_token_time - req.arrival_time, len(req.output_token_ids)
            tpot = (req.finished_time - req.first_token_time) / (n - 1) if n > 1 else None
            h['time_to_first_token_seconds'].observe(ttft); h['e2e_request_latency_seconds'].observe(req.finished_time - req.arrival_time)
            if tpot is not None: h['time_per_output_token_seconds'].observe(tpot)
            self.finished.append((req.finished_time, ttft, tpot))

    def snapshot(self) -> dict:
        "A consistent copy of everything, for readers in other threads."
        with self.lock:
            return dict(steps=list(self.steps), finished=list(self.finished), counters=Counter(self.counters),
                        finish_reasons=Counter(self.finish_reasons), hists=copy.deepcopy(self.hists))

# %% ../nbs/06_engine.ipynb #ed04e469
import copy, threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .scheduler import Request

# %% ../nbs/06_engine.ipynb #055644a2
@dataclass
class StepRecord:
    "What happened in one engine step."
    time: float
    schedule_s: float
    forward_s: float
    sample_s: float
    prefill_tokens: int
    decode_tokens: int
    num_seqs: int
    num_running: int
    num_waiting: int
    num_swapped: int
    kv_blocks_used: int
    preempted: int
    draft_tokens: int = 0
    accepted_tokens: int = 0

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)

@dataclass
class Histogram:
    "Cumulative counts of observations per upper bound, as Prometheus histograms are kept."
    buckets: tuple = BUCKETS
    counts: list = None           # one per bucket, plus +Inf
    total: float = 0.0
    n: int = 0

    def __post_init__(self): self.counts = self.counts or [0] * (len(self.buckets) + 1)
    def observe(self, v: float):
        "Count one value."
        self.counts[next((i for i, b in enumerate(self.buckets) if v <= b), len(self.buckets))] += 1
        self.total += v; self.n += 1

HISTOGRAMS = ('time_to_first_token_seconds', 'time_per_output_token_seconds', 'inter_token_latency_seconds',
              'e2e_request_latency_seconds', 'request_queue_time_seconds', 'step_prefill_seconds', 'step_decode_seconds',
              'step_schedule_seconds')

@dataclass
class Metrics:
    "Counters, histograms and recent histories from every layer, for stats(), /metrics and the dashboard."
    steps: deque = field(default_factory=lambda: deque(maxlen=2000))            # recent StepRecords
    finished: deque = field(default_factory=lambda: deque(maxlen=2000))         # (time, ttft, tpot) of recent requests
    counters: Counter = field(default_factory=Counter)                          # totals: tokens, steps, requests, ...
    finish_reasons: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=lambda: {k: Histogram() for k in HISTOGRAMS})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)   # readers live in other threads

    def record_step(self, rec: StepRecord):
        "Add one step's record to the histories, totals and step-time histograms."
        with self.lock:
            self.steps.append(rec)
            c = self.counters
            c['steps'] += 1; c['prefill_tokens'] += rec.prefill_tokens; c['decode_tokens'] += rec.decode_tokens
            c['schedule_seconds'] += rec.schedule_s; c['forward_seconds'] += rec.forward_s; c['sample_seconds'] += rec.sample_s
            c['draft_tokens'] += rec.draft_tokens; c['accepted_tokens'] += rec.accepted_tokens
            self.hists['step_prefill_seconds' if rec.prefill_tokens else 'step_decode_seconds'].observe(rec.forward_s + rec.sample_s)
            self.hists['step_schedule_seconds'].observe(rec.schedule_s)

    def record_token_gap(self, seconds: float, n: int = 1):
        "Inter-token latency of a request, for each of `n` tokens that arrived together."
        with self.lock:
            for _ in range(n): self.hists['inter_token_latency_seconds'].observe(seconds)

    def record_finished(self, req: Request):
        "Add a finished request's latencies and token counts."
        with self.lock:
            self.finish_reasons[req.finish_reason] += 1
            c = self.counters
            c['requests_finished'] += 1; c['prompt_tokens'] += len(req.prompt_token_ids); c['generation_tokens'] += len(req.output_token_ids)
            h = self.hists
            if req.first_scheduled_time: h['request_queue_time_seconds'].observe(req.first_scheduled_time - req.arrival_time)
            if req.first_token_time is None: return
            ttft, n = req.first_token_time - req.arrival_time, len(req.output_token_ids)
            tpot = (req.finished_time - req.first_token_time) / (n - 1) if n > 1 else None
            h['time_to_first_token_seconds'].observe(ttft); h['e2e_request_latency_seconds'].observe(req.finished_time - req.arrival_time)
            if tpot is not None: h['time_per_output_token_seconds'].observe(tpot)
            self.finished.append((req.finished_time, ttft, tpot))

    def snapshot(self) -> dict:
        "A consistent copy of everything, for readers in other threads."
        with self.lock:
            return dict(steps=list(self.steps), finished=list(self.finished), counters=Counter(self.counters),
                        finish_reasons=Counter(self.finish_reasons), hists=copy.deepcopy(self.hists))

# %% ../nbs/06_engine.ipynb #ed04e469
import copy, threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .scheduler import Request

# %% ../nbs/06_engine.ipynb #677afc82
def hardware_stats() -> dict:
    "CPU utilization and this process's memory (psutil); GPU utilization and memory (NVML) when a GPU is present."
    import psutil
    out = {'cpu_utilization_perc': psutil.cpu_percent(interval=None) / 100, 'process_resident_memory_bytes': psutil.Process().memory_info().rss}
    try:
        import pynvml
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        out['gpu_utilization_perc'] = pynvml.nvmlDeviceGetUtilizationRates(h).gpu / 100
        out['gpu_memory_used_bytes'] = pynvml.nvmlDeviceGetMemoryInfo(h).used
    except Exception: pass    # no NVML library or no GPU: CPU figures only
    return out

# %% ../nbs/06_engine.ipynb #055644a2
@dataclass
class StepRecord:
    "What happened in one engine step."
    time: float
    schedule_s: float
    forward_s: float
    sample_s: float
    prefill_tokens: int
    decode_tokens: int
    num_seqs: int
    num_running: int
    num_waiting: int
    num_swapped: int
    kv_blocks_used: int
    preempted: int
    draft_tokens: int = 0
    accepted_tokens: int = 0

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)

@dataclass
class Histogram:
    "Cumulative counts of observations per upper bound, as Prometheus histograms are kept."
    buckets: tuple = BUCKETS
    counts: list = None           # one per bucket, plus +Inf
    total: float = 0.0
    n: int = 0

    def __post_init__(self): self.counts = self.counts or [0] * (len(self.buckets) + 1)
    def observe(self, v: float):
        "Count one value."
        self.counts[next((i for i, b in enumerate(self.buckets) if v <= b), len(self.buckets))] += 1
        self.total += v; self.n += 1

HISTOGRAMS = ('time_to_first_token_seconds', 'time_per_output_token_seconds', 'inter_token_latency_seconds',
              'e2e_request_latency_seconds', 'request_queue_time_seconds', 'step_prefill_seconds', 'step_decode_seconds',
              'step_schedule_seconds')

@dataclass
class Metrics:
    "Counters, histograms and recent histories from every layer, for stats(), /metrics and the dashboard."
    steps: deque = field(default_factory=lambda: deque(maxlen=2000))            # recent StepRecords
    finished: deque = field(default_factory=lambda: deque(maxlen=2000))         # (time, ttft, tpot) of recent requests
    counters: Counter = field(default_factory=Counter)                          # totals: tokens, steps, requests, ...
    finish_reasons: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=lambda: {k: Histogram() for k in HISTOGRAMS})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)   # readers live in other threads

    def record_step(self, rec: StepRecord):
        "Add one step's record to the histories, totals and step-time histograms."
        with self.lock:
            self.steps.append(rec)
            c = self.counters
            c['steps'] += 1; c['prefill_tokens'] += rec.prefill_tokens; c['decode_tokens'] += rec.decode_tokens
            c['schedule_seconds'] += rec.schedule_s; c['forward_seconds'] += rec.forward_s; c['sample_seconds'] += rec.sample_s
            c['draft_tokens'] += rec.draft_tokens; c['accepted_tokens'] += rec.accepted_tokens
            self.hists['step_prefill_seconds' if rec.prefill_tokens else 'step_decode_seconds'].observe(rec.forward_s + rec.sample_s)
            self.hists['step_schedule_seconds'].observe(rec.schedule_s)

    def record_token_gap(self, seconds: float, n: int = 1):
        "Inter-token latency of a request, for each of `n` tokens that arrived together."
        with self.lock:
            for _ in range(n): self.hists['inter_token_latency_seconds'].observe(seconds)

    def record_finished(self, req: Request):
        "Add a finished request's latencies and token counts."
        with self.lock:
            self.finish_reasons[req.finish_reason] += 1
            c = self.counters
            c['requests_finished'] += 1; c['prompt_tokens'] += len(req.prompt_token_ids); c['generation_tokens'] += len(req.output_token_ids)
            h = self.hists
            if req.first_scheduled_time: h['request_queue_time_seconds'].observe(req.first_scheduled_time - req.arrival_time)
            if req.first_token_time is None: return
            ttft, n = req.first_token_time - req.arrival_time, len(req.output_token_ids)
            tpot = (req.finished_time - req.first_token_time) / (n - 1) if n > 1 else None
            h['time_to_first_token_seconds'].observe(ttft); h['e2e_request_latency_seconds'].observe(req.finished_time - req.arrival_time)
            if tpot is not None: h['time_per_output_token_seconds'].observe(tpot)
            self.finished.append((req.finished_time, ttft, tpot))

    def snapshot(self) -> dict:
        "A consistent copy of everything, for readers in other threads."
        with self.lock:
            return dict(steps=list(self.steps), finished=list(self.finished), counters=Counter(self.counters),
                        finish_reasons=Counter(self.finish_reasons), hists=copy.deepcopy(self.hists))

# %% ../nbs/06_engine.ipynb #ed04e469
import copy, threading
from collections import Counter, deque
from dataclasses import dataclass, field

from .scheduler import Request

# %% ../nbs/06_engine.ipynb #677afc82
def hardware_stats() -> dict:
    "CPU utilization and this process's memory (psutil); GPU utilization and memory (NVML) when a GPU is present."
    import psutil
    out = {'cpu_utilization_perc': psutil.cpu_percent(interval=None) / 100, 'process_resident_memory_bytes': psutil.Process().memory_info().rss}
    try:
        import pynvml
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        out['gpu_utilization_perc'] = pynvml.nvmlDeviceGetUtilizationRates(h).gpu / 100
        out['gpu_memory_used_bytes'] = pynvml.nvmlDeviceGetMemoryInfo(h).used
    except Exception: pass    # no NVML library or no GPU: CPU figures only
    return out

# %% ../nbs/06_engine.ipynb #055644a2
@dataclass
class StepRecord:
    "What happened in one engine step."
    time: float
    schedule_s: float
    forward_s: float
    sample_s: float
    prefill_tokens: int
    decode_tokens: int
    num_seqs: int
    num_running: int
    num_waiting: int
    num_swapped: int
    kv_blocks_used: int
    preempted: int
    draft_tokens: int = 0
    accepted_tokens: int = 0

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)

@dataclass
class Histogram:
    "Cumulative counts of observations per upper bound, as Prometheus histograms are kept."
    buckets: tuple = BUCKETS
    counts: list = None           # one per bucket, plus +Inf
    total: float = 0.0
    n: int = 0

    def __post_init__(self): self.counts = self.counts or [0] * (len(self.buckets) + 1)
    def observe(self, v: float):
        "Count one value."
        self.counts[next((i for i, b in enumerate(self.buckets) if v <= b), len(self.buckets))] += 1
        self.total += v; self.n += 1

HISTOGRAMS = ('time_to_first_token_seconds', 'time_per_output_token_seconds', 'inter_token_latency_seconds',
              'e2e_request_latency_seconds', 'request_queue_time_seconds', 'step_prefill_seconds', 'step_decode_seconds',
              'step_schedule_seconds')

@dataclass
class Metrics:
    "Counters, histograms and recent histories from every layer, for stats(), /metrics and the dashboard."
    steps: deque = field(default_factory=lambda: deque(maxlen=2000))            # recent StepRecords
    finished: deque = field(default_factory=lambda: deque(maxlen=2000))         # (time, ttft, tpot) of recent requests
    counters: Counter = field(default_factory=Counter)                          # totals: tokens, steps, requests, ...
    finish_reasons: Counter = field(default_factory=Counter)
    hists: dict = field(default_factory=lambda: {k: Histogram() for k in HISTOGRAMS})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)   # readers live in other threads

    def record_step(self, rec: StepRecord):
        "Add one step's record to the histories, totals and step-time histograms."
        with self.lock:
            self.steps.append(rec)
            c = self.counters
            c['steps'] += 1; c['prefill_tokens'] += rec.prefill_tokens; c['decode_tokens'] += rec.decode_tokens
            c['schedule_seconds'] += rec.schedule_s; c['forward_seconds'] += rec.forward_s; c['sample_seconds'] += rec.sample_s
            c['draft_tokens'] += rec.draft_tokens; c['accepted_tokens'] += rec.accepted_tokens
            self.hists['step_prefill_seconds' if rec.prefill_tokens else 'step_decode_seconds'].observe(rec.forward_s + rec.sample_s)
            self.hists['step_schedule_seconds'].observe(rec.schedule_s)

    def record_token_gap(self, seconds: float, n: int = 1):
        "Inter-token latency of a request, for each of `n` tokens that arrived together."
        with self.lock:
            for _ in range(n): self.hists['inter_token_latency_seconds'].observe(seconds)

    def record_finished(self, req: Request):
        "Add a finished request's latencies and token counts."
        with self.lock:
            self.finish_reasons[req.finish_reason] += 1
            c = self.counters
            c['requests_finished'] += 1; c['prompt_tokens'] += len(req.prompt_token_ids); c['generation_tokens'] += len(req.output_token_ids)
            h = self.hists
            if req.first_scheduled_time: h['request_queue_time_seconds'].observe(req.first_scheduled_time - req.arrival_time)
            if req.first_token_time is None: return
            ttft, n = req.first_token_time - req.arrival_time, len(req.output_token_ids)
            tpot = (req.finished_time - req.first_token_time) / (n - 1) if n > 1 else None
            h['time_to_first_token_seconds'].observe(ttft); h['e2e_request_latency_seconds'].observe(req.finished_time - req.arrival_time)
            if tpot is not None: h['time_per_output_token_seconds'].observe(tpot)
            self.finished.append((req.finished_time, ttft, tpot))

    def snapshot(self) -> dict:
        "A consistent copy of everything, for readers in other threads."
        with self.lock:
            return dict(steps=list(self.steps), finished=list(self.finished), counters=Counter(self.counters),
                        finish_reasons=Counter(self.finish_reasons), hists=copy.deepcopy(self.hists))