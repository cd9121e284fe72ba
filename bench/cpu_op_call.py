"""Issue 13: what one call of a `nano_serve` op costs through an AOTInductor package, against a Python loop of the same calls.

    python bench/cpu_op_call.py [--calls 150]

`rows_linear` over a 64 x 64 identity (scaled), chained `calls` times: so small that nearly all of a call is the call.
The package is built without its weights and handed the module's buffer, as `06b_runner`'s decode step is.
"""
import argparse, statistics, tempfile, time
import torch
from nano_serve.cpu_kernels import build_cpu_kernels, register_ops, block_weight

ap = argparse.ArgumentParser(); ap.add_argument('--calls', type=int, default=150); A = ap.parse_args()
kernels = build_cpu_kernels(); register_ops(kernels)
D = 64
blocked = block_weight(torch.eye(D) * 0.99, kernels.width)

class Chain(torch.nn.Module):
    "`calls` products in a row, the weight a buffer (so the package names it)."
    def __init__(self): super().__init__(); self.register_buffer('b', blocked)
    def forward(self, x):
        for _ in range(A.calls): x = torch.ops.nano_serve.rows_linear(x, self.b, None, None, D)
        return x

x = torch.randn(1, D)
with tempfile.TemporaryDirectory() as tmp:
    path = torch._inductor.aoti_compile_and_package(torch.export.export(Chain(), (x,), strict=False), package_path=f'{tmp}/chain.pt2',
                                                    inductor_configs={'aot_inductor.package_constants_in_so': False})
    package = torch._inductor.aoti_load_package(path)
package.load_constants({'b': blocked}, check_full_update=True, user_managed=True)
op = torch.ops.nano_serve.rows_linear.default

def python_loop():
    "The same calls from Python."
    y = x
    for _ in range(A.calls): y = op(y, blocked, None, None, D)
    return y

assert torch.allclose(package.loader.boxed_run([x])[0], python_loop(), rtol=1e-5, atol=1e-6)
for name, f in (('package', lambda: package.loader.boxed_run([x])), ('python loop', python_loop)):
    ts = []
    for _ in range(200):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    print(f'{name}: {statistics.median(ts) * 1e6 / A.calls:.2f} us a call (median of 200 chains of {A.calls})')
