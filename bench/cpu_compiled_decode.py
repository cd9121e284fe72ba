"""Issue 13, tried and not adopted: a CPU decode step as one `torch.compile` graph, against the eager step, interleaved.

    python bench/cpu_compiled_decode.py [--rounds 6]

What it builds (here only, not in the package): the two things inductor cannot lower are made opaque custom ops (the
oneDNN product over pre-packed weights, whose blocked layout inductor's own lowering rejects; and paged attention,
which writes K/V into the cache in place), and the whole model over a pure-decode step is compiled with dynamic shapes,
so that every elementwise chain becomes generated C++ and no per-op Python remains. Decode steps then go through the
compiled graph, everything else through the eager runner. Reports the compile time, whether greedy tokens are
unchanged, and step medians at 1 and 16 rows, eager and compiled alternating in one process.
"""
import argparse, hashlib, json, statistics, time
from typing import Optional
import torch
import torch.nn.functional as F
from torch import Tensor
from nano_serve.engine import LLM, SamplingParams
from nano_serve.cache import write_kv, short_rows
from nano_serve.runner import prepare_inputs
import nano_serve.model as M


@torch.library.custom_op('nano_bench::decode_attention', mutates_args=('kv',))
def decode_attention(q: Tensor, k: Tensor, v: Tensor, kv: Tensor, layer: int, slots: Tensor, blocks: Tensor, mask: Tensor) -> Tensor:
    "Write this layer's new K/V at `slots`, then attend over the gathered `blocks` under `mask` (one query per request)."
    kc, vc = kv[layer, 0], kv[layer, 1]
    write_kv(kc, vc, k, v, slots)
    D, (kvh, d) = q.shape[0], kc.shape[2:]
    kk, vv = (c.index_select(0, blocks).view(D, -1, kvh, d).transpose(1, 2) for c in (kc, vc))
    return F.scaled_dot_product_attention(q.reshape(D, kvh, -1, d), kk, vv, attn_mask=mask).reshape(q.shape)

@decode_attention.register_fake
def _(q, k, v, kv, layer, slots, blocks, mask): return q.new_empty(q.shape)


@torch.library.custom_op('nano_bench::packed_linear', mutates_args=())
def packed_linear(x: Tensor, packed: Tensor, bias: Optional[Tensor], out_features: int) -> Tensor:
    "oneDNN's product over a pre-packed weight, hidden from inductor."
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, 'none', [], '')

@packed_linear.register_fake
def _(x, packed, bias, out_features): return x.new_empty((*x.shape[:-1], out_features))


def decode_step(model, ids, pos, kv, slots, blocks, mask):
    "Logits of a pure-decode step, every layer's attention through the custom op."
    attn = lambda layer, q, k, v: torch.ops.nano_bench.decode_attention(q, k, v, kv, layer, slots, blocks, mask)
    return model.compute_logits(model(ids, pos, attn))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--rounds', type=int, default=6)
    a = ap.parse_args()
    M.PackedLinear.forward = lambda self, x: torch.ops.nano_bench.packed_linear(x, self.packed, self.bias, self.out_features)
    llm = LLM(max_num_seqs=16)
    runner, model = llm.core.runner, llm.core.runner.model
    eager, compiled, res = runner.forward, torch.compile(decode_step, dynamic=True, fullgraph=True), {'compile_s': None}

    @torch.inference_mode()
    def forward(batch, graphs=True):
        if not batch.chunks or batch.swap_in or batch.swap_out: return eager(batch, graphs)
        x = prepare_inputs(batch.chunks, runner.cache.block_size, runner.device, runner.last_rows, batch.block_tables)
        if not x.meta.all_decode() or x.holes is not None: return eager(batch, graphs)
        group = model.config.num_attention_heads // runner.cache.data.shape[4]
        _, _, _, blocks, mask = short_rows(x.meta, runner.cache.block_size, group)
        t = time.perf_counter()
        out = compiled(model, x.input_ids, x.positions, runner.cache.data, x.meta.slot_mapping, blocks, mask)
        if res['compile_s'] is None: res['compile_s'] = time.perf_counter() - t
        return out[x.logits_rows]

    def tokens():
        o = llm.generate(['Write a poem about the sea.', 'def fib(n):'], SamplingParams(temperature=0, max_tokens=40), use_tqdm=False)
        return hashlib.md5(str([x.outputs[0].token_ids for x in o]).encode()).hexdigest()[:8]
    res['tokens_eager'] = tokens(); runner.forward = forward; res['tokens_compiled'] = tokens()
    for bs in (1, 16):
        p = SamplingParams(temperature=0, max_tokens=1000, ignore_eos=True)
        for i in range(bs): llm.add_request(list(range(100 + i, 228 + i)), p)
        for _ in range(3): llm.step()
        ts = {'eager': [], 'compiled': []}
        for _ in range(a.rounds):
            for mode in ts:
                runner.forward = forward if mode == 'compiled' else eager
                llm.step()
                for _ in range(8):
                    t = time.perf_counter(); llm.step(); ts[mode].append(time.perf_counter() - t)
        for r in list(llm.core.scheduler.running) + list(llm.core.scheduler.waiting): llm.abort(r.request_id)
        res[f'bs{bs}'] = {m: {'median_ms': round(statistics.median(v) * 1e3, 2), 'min_ms': round(min(v) * 1e3, 2)} for m, v in ts.items()}
    from cpu_peers import lscpu   # this folder's side-by-side script: the CPU's model, vector extensions and cores
    print(json.dumps({'cpu': lscpu(), **res}, indent=1))


if __name__ == '__main__': main()
