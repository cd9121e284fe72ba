"""Issue 16: where the int8 x int8 path's error goes, and what taking input channels out of the rounding buys (05b_quantization).

    python bench/int8_outliers_cpu.py [--out bench/results/int8-outliers-cpu.json] [--variants call:8,down:8] [--no-speed]

The bundled model, int8 weights; every many-row product (here every window of nbs/data/eval-english.txt, 1,024 rows)
goes through oneDNN's int8 kernel with per-token unsigned bytes, except the input channels each variant multiplies in
float32 instead. Per variant: perplexity against float32's, and the mean KL divergence of the next-token distributions
from float32's (steadier than perplexity, which moves by tenths of a percent with rounding luck); with the mean number
of channels in float32 per layer input size. Variant `down` keeps the MLP's down projection (the input with the largest
outliers) out of the rounding altogether, its activations in float32 against the widened int8 weights, and splits k
channels of the other products. Then the cost: one layer's four products at 16, 256 and 1,024 rows
without and with the split of 8 channels. Needs a CPU with int8 dot products (VNNI or AMX).
"""
import argparse, copy, json, statistics, sys, time
from pathlib import Path
import torch
from torch import nn
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nano_serve.model import load_model, causal_attention
from nano_serve.quantization import quantize_model, perplexity, Int8Linear, uint8_rows
from cpu_peers import lscpu

RULE, USED = {}, {}   # the variant in force; channels in float32 per call, by input size


def channels(layer: Int8Linear, x: torch.Tensor, kind: str):
    "The float32 part of a split of `kind`: (x without those channels, their values as [rows, c], the weight columns they meet)."
    k = RULE['k']
    if kind == 'call':        # the call's k channels of largest |x| (what Int8Linear does, k=8)
        cols = x.abs().amax(0).topk(k).indices
    elif kind == 'threshold':  # every channel with some |x| above k (LLM.int8()'s rule)
        cols = (x.abs().amax(0) > k).nonzero().squeeze(1)
    elif kind == 'token':     # each token's own k largest: the union of them, zeros elsewhere
        idx = x.abs().topk(k, -1).indices
        cols = idx.unique()
        xo = x.new_zeros(x.shape[0], len(cols)).scatter_(1, torch.searchsorted(cols, idx), x.gather(1, idx))
        return x.scatter(1, idx, 0.0), xo, cols
    else:                      # 'fixed': the k channels with the largest |x| on a calibration text
        cols = RULE['fixed'][layer][:k]
    return x.index_fill(1, cols, 0.0), x[:, cols], cols


def product(layer: Int8Linear, x: torch.Tensor) -> torch.Tensor:
    "Int8Linear's many-row product with the variant's split."
    x = x.float()
    if RULE['kind'] == 'down' and layer.in_features == RULE['down_in']:   # the weights alone: no activation rounding
        USED.setdefault(layer.in_features, []).append(layer.in_features)
        return x @ (layer.qweight.float() * layer.scale[:, None]).T
    kind = 'call' if RULE['kind'] == 'down' else RULE['kind']   # the other products split as Int8Linear does
    if kind == 'none' or (kind == 'fixed' and layer not in RULE['fixed']): xi, xo, cols = x, x[:, :0], torch.arange(0)
    else: xi, xo, cols = channels(layer, x, kind)
    USED.setdefault(layer.in_features, []).append(len(cols))
    ux, a, z = uint8_rows(xi)
    y = torch.ops.onednn.qlinear_pointwise(ux, 1.0, 0, layer.packed, layer.scale, layer.zeros, None, 1.0, 0, torch.float32, 'none', [], '')
    return (y - z[:, None] * layer.wsum) * a[:, None] + xo @ (layer.qweight[:, cols].float() * layer.scale[:, None]).T


def speed() -> dict:
    "Ms for one layer's four products of the bundled model's shapes (Int8Linear without the split and with it at every row count), medians, by row count."
    out = {}
    for rows in (16, 256, 1024):
        t = {0: 0.0, 8: 0.0}
        for k, n in ((576, 960), (576, 576), (576, 3072), (1536, 576)):
            lin, x = nn.Linear(k, n, bias=False), torch.randn(rows, k)
            layers, ts = {s: Int8Linear(lin, outliers=s, outlier_rows=0) for s in (0, 8)}, {0: [], 8: []}
            for _ in range(30):
                for s, layer in layers.items():   # by turns
                    t0 = time.perf_counter(); layer(x); ts[s].append(time.perf_counter() - t0)
            for s in ts: t[s] += statistics.median(ts[s]) * 1e3
        out[rows] = {'without_ms': t[0], 'with_8_ms': t[8]}; print(rows, out[rows], flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--out', default=None)
    ap.add_argument('--speed-only', action='store_true', help="time the products again into --out's result, not the quality")
    ap.add_argument('--variants', default=None, help="kind:k,... to run only these (e.g. none:0,call:8,down:8)")
    ap.add_argument('--no-speed', action='store_true', help='skip the timing of the products')
    a = ap.parse_args()
    if a.speed_only:
        res = json.loads(Path(a.out).read_text()); res['layer_products_ms'] = speed(); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
        return
    todo = [(kind, k) for kind, ks in (('none', [0]), ('call', [4, 8, 16, 32, 64]), ('threshold', [6.0, 8.0]), ('token', [8]),
                                       ('fixed', [8, 32]), ('down', [8])) for k in ks]
    if a.variants:   # only those asked, each by kind and k
        asked = {(kind, float(k)) for kind, k in (v.split(':') for v in a.variants.split(','))}
        todo = [(kind, k) for kind, k in todo if (kind, float(k)) in asked]
        if len(todo) != len(asked): raise SystemExit(f'--variants {a.variants}: not all of them are variants of this script')
    m, tok = load_model(device='cpu', dtype='float32')
    text = torch.tensor(tok.encode((ROOT / 'nbs/data/eval-english.txt').read_text()))
    mq = quantize_model(copy.deepcopy(m), 'int8')
    assert all(l.onednn for l in mq.modules() if isinstance(l, Int8Linear)), 'needs int8 dot products (VNNI or AMX)'
    wins = [w for w in text.split(1024) if len(w) > 1]
    logp = lambda model: [torch.log_softmax(model.compute_logits(model(w, torch.arange(len(w)), causal_attention)), -1) for w in wins]
    with torch.inference_mode(): ref, base = logp(m), perplexity(m, text)
    fixed = {}   # calibration for 'fixed': the README's first 1,024 tokens, the weights alone (float activations)
    def record(layer, x):
        x2 = x.reshape(-1, layer.in_features); s = x2.abs().amax(0)
        fixed[layer] = torch.maximum(fixed.get(layer, s), s)
        return torch._weight_int8pack_mm(x2.to(torch.bfloat16), layer.qweight, layer.scale16).float().reshape(*x.shape[:-1], -1)
    Int8Linear.forward = record
    ids = torch.tensor(tok.encode((ROOT / 'README.md').read_text()[:8000]))[:1024]
    with torch.inference_mode(): mq.compute_logits(mq(ids, torch.arange(len(ids)), causal_attention))
    RULE['fixed'] = {l: s.topk(64).indices.sort().values for l, s in fixed.items()}
    Int8Linear.forward = lambda layer, x: product(layer, x.reshape(-1, layer.in_features)).to(x.dtype).reshape(*x.shape[:-1], layer.out_features)
    res = {'cpu': lscpu(), 'date': time.strftime('%Y-%m-%d %H:%M'), 'float32_perplexity': base, 'variants': []}
    RULE['down_in'] = m.config.intermediate_size
    for kind, k in todo:
        RULE.update(kind=kind, k=k); USED.clear()
        with torch.inference_mode():
            kl = sum((r.exp() * (r - o)).sum().item() for r, o in zip(ref, logp(mq))) / sum(len(w) for w in wins)
        p = perplexity(mq, text)
        row = {'variant': kind, 'k': k, 'kl': kl, 'perplexity': p, 'relative': p / base,
               'float_channels': {n: statistics.mean(v) for n, v in USED.items()}}
        res['variants'].append(row); print(row, flush=True)
    if not a.no_speed: res['layer_products_ms'] = speed()
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')


if __name__ == '__main__': main()
