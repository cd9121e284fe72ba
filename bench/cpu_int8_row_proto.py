"""Issue 16 on AVX2 (00a_cpu_kernels, "On an AVX2-only EPYC"): what a C++ one-row int8 product would take, to set
against the one the compiled step has today (inductor's reductions over `interleave_rows`' int32 words, 05b: 30.7 ms
a step in `bench/cpu_step_profile.py --rows 1 --quantization int8` on the AVX2 EPYC). A prototype, not used by the engine: int8 weights stored as blocks of V output columns `[N/V][K][V]`; each step of k widens V bytes to V
floats and does one FMA per block, two blocks at once, per-output scales at the end. The bundled model's shapes, 30
layers plus the 49,152 x 576 head, random int8, each matrix its own memory (134 MB, more than the caches), one row;
median of 7 passes over every matrix, checked against a float32 reference (and `interleaved_row_product`) first, and
the floor: the int8 bytes read once at this machine's read rate.

    python bench/cpu_int8_row_proto.py [--rounds 2] [--out F.json]
"""
import argparse, ctypes, json, statistics, subprocess, tempfile, time
from pathlib import Path
import torch
from nano_serve.quantization import cpu_flags, interleave_rows, interleaved_row_product

SRC = r'''
#include <stdint.h>
#include <immintrin.h>
#if defined(__AVX512F__)
#define V 16
typedef __m512 vec;
static inline vec widen(const int8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p))); }
#define FMA _mm512_fmadd_ps
#define SET1 _mm512_set1_ps
#define ZERO _mm512_setzero_ps
#define MUL _mm512_mul_ps
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define ADD _mm512_add_ps
#else
#define V 8
typedef __m256 vec;
static inline vec widen(const int8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p))); }
#define FMA _mm256_fmadd_ps
#define SET1 _mm256_set1_ps
#define ZERO _mm256_setzero_ps
#define MUL _mm256_mul_ps
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define ADD _mm256_add_ps
#endif
extern "C" int width() { return V; }
extern "C" void row_int8(const float* x, const int8_t* w, const float* scale, float* y, int64_t K, int64_t N) {
  #pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N / (2 * V); ++p) {
    const int8_t* w0 = w + p * 2 * K * V; const int8_t* w1 = w0 + K * V;
    vec a0 = ZERO(), a1 = ZERO(), b0 = ZERO(), b1 = ZERO();
    for (int64_t k = 0; k < K; k += 2) {
      __builtin_prefetch(w0 + (k + 256) * V); __builtin_prefetch(w1 + (k + 256) * V);
      vec s = SET1(x[k]), t = SET1(x[k + 1]);
      a0 = FMA(s, widen(w0 + k * V), a0); a1 = FMA(s, widen(w1 + k * V), a1);
      b0 = FMA(t, widen(w0 + (k + 1) * V), b0); b1 = FMA(t, widen(w1 + (k + 1) * V), b1);
    }
    STORE(y + p * 2 * V, MUL(ADD(a0, b0), LOAD(scale + p * 2 * V)));
    STORE(y + p * 2 * V + V, MUL(ADD(a1, b1), LOAD(scale + p * 2 * V + V)));
  }
}
'''
SHAPES = [(960, 576), (320, 576), (320, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]   # q k v o gate up down [N, K]


def build():
    "Compile SRC for this CPU; the library."
    d = Path(tempfile.mkdtemp()); (d / 'k.cpp').write_text(SRC)
    subprocess.run(['g++', '-O3', '-march=native', '-fopenmp', '-shared', '-fPIC', str(d / 'k.cpp'), '-o', str(d / 'k.so')], check=True)
    lib = ctypes.CDLL(str(d / 'k.so'))
    lib.row_int8.argtypes, lib.row_int8.restype = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 2, None
    return lib


def blocked(q: torch.Tensor, v: int) -> torch.Tensor:
    "int8 `[N, K]` as `[N/v][K][v]`."
    n, k = q.shape
    return q.view(n // v, v, k).transpose(1, 2).contiguous()


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--rounds', type=int, default=2); ap.add_argument('--out', default=None)
    a = ap.parse_args()
    lib = build(); V = lib.width()
    mats = [(torch.randint(-127, 128, (n, k), dtype=torch.int8), torch.rand(n) / 100) for _ in range(30) for n, k in SHAPES]
    mats.append((torch.randint(-127, 128, (49152, 576), dtype=torch.int8), torch.rand(49152) / 100))
    xs = {k: torch.randn(1, k) for k in (576, 1536)}
    ys = [torch.empty(n) for (q, _) in mats for n in [q.shape[0]]]
    blk = [blocked(q, V) for q, _ in mats]
    words = [interleave_rows(q) for q, _ in mats]
    ours = lambda: [lib.row_int8(xs[q.shape[1]].data_ptr(), b.data_ptr(), s.data_ptr(), y.data_ptr(), q.shape[1], q.shape[0]) for (q, s), b, y in zip(mats, blk, ys)]
    for (q, s), b, w, y in list(zip(mats, blk, words, ys))[:8] + [(mats[-1], blk[-1], words[-1], ys[-1])][:1]:
        ref = (xs[q.shape[1]] @ q.float().T)[0] * s
        lib.row_int8(xs[q.shape[1]].data_ptr(), b.data_ptr(), s.data_ptr(), y.data_ptr(), q.shape[1], q.shape[0])
        assert torch.allclose(y, ref, rtol=1e-3, atol=1e-3), (y - ref).abs().max()
        assert torch.allclose((interleaved_row_product(xs[q.shape[1]], w) * s).flatten(), ref, rtol=1e-3, atol=1e-3)
    nbytes = sum(q.numel() for q, _ in mats)
    big = torch.ones(nbytes // 4)
    res = {'cpu': {'model': next((l.split(':', 1)[1].strip() for l in subprocess.run(['lscpu'], capture_output=True, text=True).stdout.splitlines() if l.startswith('Model name')), '?'),
                   'isa': sorted(f for f in cpu_flags() if f.startswith(('avx2', 'avx512f')))}, 'width': V, 'int8_mb': nbytes / 1e6, 'rounds': []}
    for _ in range(a.rounds):
        r = {}
        for name, fn in (('kernel', ours),):
            fn(); ts = []
            for _ in range(7): t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
            r[name] = statistics.median(ts) * 1e3
        ts = []
        for _ in range(7): t = time.perf_counter(); big.sum(); ts.append(time.perf_counter() - t)
        r['floor_ms'] = min(ts) * 1e3
        res['rounds'].append(r); print(json.dumps(r), flush=True)
    print(json.dumps(res))
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1) + '\n')


if __name__ == '__main__': main()
