"""The GPU's own ceiling: a bare SHA-256 compression kernel, compiled and timed in the
same run, on the same card, as the verifier it is compared with.

Each thread runs ``iterations`` compressions in a chain (each block is the previous state
mixed into the message schedule, so none can be skipped or hoisted), everything in
registers, no memory traffic but one word written per thread. Compressions per second is
the most any SHA-256 kernel can do on that card with that compiler: the verifier's figures
are given as fractions of it. Without CuPy or a GPU, :func:`measure_ceiling` returns None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

BARE_SHA256_SOURCE = r"""
__constant__ unsigned int K[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};

__device__ __forceinline__ unsigned int rotr(unsigned int x, unsigned int n) {
  return __funnelshift_r(x, x, n);
}

extern "C" __global__ void bare_sha256(unsigned int* out, unsigned int iterations,
                                       unsigned int seed) {
  const unsigned int tid = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned int w[16];
#pragma unroll
  for (int i = 0; i < 16; i++) w[i] = tid * 0x9E3779B9u + (unsigned int)i + seed;
  unsigned int s[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (unsigned int it = 0; it < iterations; it++) {
    unsigned int a = s[0], b = s[1], c = s[2], d = s[3];
    unsigned int e = s[4], f = s[5], g = s[6], h = s[7];
#pragma unroll
    for (int i = 0; i < 64; i++) {
      unsigned int wi;
      if (i < 16) {
        wi = w[i];
      } else {
        unsigned int w2 = w[(i - 2) & 15], w15 = w[(i - 15) & 15];
        wi = (rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10)) + w[(i - 7) & 15]
           + (rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3)) + w[i & 15];
        w[i & 15] = wi;
      }
      unsigned int t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g))
                      + K[i] + wi;
      unsigned int t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
#pragma unroll
    for (int i = 0; i < 8; i++) w[i] ^= s[i];  // the next block depends on this one
  }
  out[tid] = s[0] ^ s[1] ^ s[2] ^ s[3] ^ s[4] ^ s[5] ^ s[6] ^ s[7];
}
"""

THREADS_PER_BLOCK = 256
BLOCKS_PER_SM = 64
ITERATIONS = 256
MASK = 0xFFFFFFFF
IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
      0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
ROUND_CONSTANTS = tuple(int(word, 16) for word in re.findall(
    r"0x([0-9a-f]{8})", BARE_SHA256_SOURCE.split("};")[0]))


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & MASK


def compress(state: tuple[int, ...], block: list[int]) -> tuple[int, ...]:
    """Returns the SHA-256 compression of 16 big-endian words into ``state`` (the kernel's
    arithmetic, in Python: the reference its output is checked against)."""
    w = list(block)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        if i >= 16:
            w2, w15 = w[(i - 2) & 15], w[(i - 15) & 15]
            w[i & 15] = ((_rotr(w2, 17) ^ _rotr(w2, 19) ^ (w2 >> 10)) + w[(i - 7) & 15]
                         + (_rotr(w15, 7) ^ _rotr(w15, 18) ^ (w15 >> 3)) + w[i & 15]) & MASK
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g))
              + ROUND_CONSTANTS[i] + w[i & 15]) & MASK
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & MASK
        h, g, f, e, d, c, b, a = g, f, e, (d + t1) & MASK, c, b, a, (t1 + t2) & MASK
    block[:] = w
    return tuple((x + y) & MASK for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


def reference_word(tid: int, iterations: int, seed: int) -> int:
    """Returns what the kernel's thread ``tid`` writes, computed in Python."""
    w = [(tid * 0x9E3779B9 + i + seed) & MASK for i in range(16)]
    s: tuple[int, ...] = IV
    for _ in range(iterations):
        s = compress(s, w)
        for i in range(8):
            w[i] ^= s[i]
    out = 0
    for x in s:
        out ^= x
    return out


@dataclass(frozen=True)
class Ceiling:
    """The card and its bare SHA-256 compression rate, measured now."""

    card: str
    compute_capability: str
    multiprocessors: int
    compressions_per_second: float


def card_name(cupy: Any) -> tuple[str, str, int]:
    """Returns (name, compute capability, multiprocessor count) of the current device."""
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return name, f"{props['major']}.{props['minor']}", int(props["multiProcessorCount"])


def measure_ceiling(repeats: int = 5) -> Ceiling | None:
    """Returns the card's bare compression rate (best of ``repeats`` timed launches), or
    None where CuPy or a CUDA device is missing."""
    try:
        import cupy

        if int(cupy.cuda.runtime.getDeviceCount()) == 0:
            return None
    except Exception:  # ImportError, CUDARuntimeError: no GPU here
        return None
    name, capability, sms = card_name(cupy)
    kernel = cupy.RawKernel(BARE_SHA256_SOURCE, "bare_sha256", options=("--std=c++14",))
    blocks = sms * BLOCKS_PER_SM
    threads = blocks * THREADS_PER_BLOCK
    out = cupy.zeros(threads, dtype=cupy.uint32)
    args = (out, cupy.uint32(ITERATIONS), cupy.uint32(1))
    kernel((blocks,), (THREADS_PER_BLOCK,), args)  # compile and warm up
    cupy.cuda.Device().synchronize()
    best = float("inf")
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    for _ in range(repeats):
        start.record()
        kernel((blocks,), (THREADS_PER_BLOCK,), args)
        stop.record()
        stop.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, stop) / 1000.0)
    expected = reference_word(threads - 1, ITERATIONS, 1)
    if int(out[-1].get()) != expected:
        raise RuntimeError("the bare kernel computed a wrong chain: its rate means nothing")
    return Ceiling(name, capability, sms, threads * ITERATIONS / best)
