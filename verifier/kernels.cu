// valedger share verification kernels: one thread per share (or per header).
//
// The whole Stratum path runs on the device: coinbase assembly from the job's bytes and
// the share's extranonce2, coinbase SHA256d, merkle-branch folding, version rolling,
// header SHA256d and the comparison against the share and network targets.
// The Job and Share structs mirror JOB_DTYPE and SHARE_DTYPE in packed.py.
//
// Self-contained on purpose (no headers): NVRTC compiles it as is, and the host tests
// compile it with a C++ compiler after defining the CUDA qualifiers away.

typedef unsigned char u8;
typedef unsigned int u32;

struct Job {
    u32 version, version_mask, ntime, nbits, extranonce2_size;
    u32 coinb1_off, coinb1_len, extranonce1_off, extranonce1_len, coinb2_off, coinb2_len;
    u32 branch_off, branch_len;
    u8 prevhash[32];
    u8 share_target[32];    // little-endian 256-bit integer
    u8 network_target[32];  // little-endian 256-bit integer
};

struct Share {
    int job;
    u32 ntime, nonce, version_bits, extranonce2_len;
    u8 extranonce2[32];
};

#define FLAG_SHARE 1u
#define FLAG_NETWORK 2u
#define FLAG_HASHED 4u

__constant__ u32 K256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

__device__ __forceinline__ u32 rotr(u32 x, u32 n) { return (x >> n) | (x << (32u - n)); }

__device__ __forceinline__ void sha256_init(u32 s[8]) {
    s[0] = 0x6a09e667u; s[1] = 0xbb67ae85u; s[2] = 0x3c6ef372u; s[3] = 0xa54ff53au;
    s[4] = 0x510e527fu; s[5] = 0x9b05688cu; s[6] = 0x1f83d9abu; s[7] = 0x5be0cd19u;
}

// One SHA-256 compression of the 16 big-endian message words in w (w is clobbered).
__device__ void sha256_compress(u32 s[8], u32 w[16]) {
    u32 a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
#pragma unroll
    for (int i = 0; i < 64; ++i) {
        u32 wi;
        if (i < 16) {
            wi = w[i];
        } else {
            u32 w15 = w[(i - 15) & 15], w2 = w[(i - 2) & 15];
            u32 s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
            u32 s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
            wi = w[i & 15] + s0 + w[(i - 7) & 15] + s1;
            w[i & 15] = wi;
        }
        u32 t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + wi;
        u32 t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

// s = SHA256(digest) where digest is the 32-byte big-endian serialisation of d[8].
__device__ void sha256_of_digest(const u32 d[8], u32 s[8]) {
    u32 w[16];
#pragma unroll
    for (int i = 0; i < 8; ++i) w[i] = d[i];
    w[8] = 0x80000000u;
#pragma unroll
    for (int i = 9; i < 15; ++i) w[i] = 0u;
    w[15] = 256u;
    sha256_init(s);
    sha256_compress(s, w);
}

__device__ __forceinline__ u32 load_be32(const u8* p) {
    return ((u32)p[0] << 24) | ((u32)p[1] << 16) | ((u32)p[2] << 8) | (u32)p[3];
}

__device__ __forceinline__ u32 bswap32(u32 x) {
    return (x >> 24) | ((x >> 8) & 0x0000ff00u) | ((x << 8) & 0x00ff0000u) | (x << 24);
}

// Streaming SHA-256 over bytes appended one at a time (the coinbase is variable-length).
struct Sha256Stream {
    u32 s[8];
    u32 w[16];
    u32 len;
};

__device__ void stream_init(Sha256Stream& c) {
    sha256_init(c.s);
    for (int i = 0; i < 16; ++i) c.w[i] = 0u;
    c.len = 0u;
}

__device__ void stream_byte(Sha256Stream& c, u32 byte) {
    u32 i = c.len & 63u;
    c.w[i >> 2] |= byte << (24u - ((i & 3u) << 3));
    c.len += 1u;
    if ((c.len & 63u) == 0u) {
        sha256_compress(c.s, c.w);
        for (int k = 0; k < 16; ++k) c.w[k] = 0u;
    }
}

__device__ void stream_bytes(Sha256Stream& c, const u8* p, u32 n) {
    for (u32 k = 0; k < n; ++k) stream_byte(c, p[k]);
}

__device__ void stream_final(Sha256Stream& c) {
    u32 bits = c.len << 3;  // coinbases are < 512 MiB, so the high length word is zero
    stream_byte(c, 0x80u);
    while ((c.len & 63u) != 56u) stream_byte(c, 0u);
    // The last 8 bytes: a 64-bit big-endian bit length; its high word is zero.
    c.w[14] = 0u;
    c.w[15] = bits;
    sha256_compress(c.s, c.w);
}

// True when the digest d (serialised big-endian), read as a little-endian 256-bit integer,
// is at most the little-endian target t.
__device__ bool digest_leq(const u32 d[8], const u8* t) {
    for (int i = 31; i >= 0; --i) {
        u32 hb = (d[i >> 2] >> (24 - ((i & 3) << 3))) & 0xffu;
        u32 tb = t[i];
        if (hb < tb) return true;
        if (hb > tb) return false;
    }
    return true;
}

__device__ void store_digest(const u32 d[8], u8* out) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        out[4 * i + 0] = (u8)(d[i] >> 24);
        out[4 * i + 1] = (u8)(d[i] >> 16);
        out[4 * i + 2] = (u8)(d[i] >> 8);
        out[4 * i + 3] = (u8)d[i];
    }
}

// SHA256d of an 80-byte header given as 20 big-endian words; result in h.
__device__ void sha256d_header(const u32 hw[20], u32 h[8]) {
    u32 s[8], w[16];
    sha256_init(s);
#pragma unroll
    for (int i = 0; i < 16; ++i) w[i] = hw[i];
    sha256_compress(s, w);
    w[0] = hw[16]; w[1] = hw[17]; w[2] = hw[18]; w[3] = hw[19];
    w[4] = 0x80000000u;
#pragma unroll
    for (int i = 5; i < 15; ++i) w[i] = 0u;
    w[15] = 640u;
    sha256_compress(s, w);
    sha256_of_digest(s, h);
}

extern "C" __global__ void verify_shares(const Job* __restrict__ jobs,
                                         const u8* __restrict__ job_bytes,
                                         const u8* __restrict__ branches,
                                         const Share* __restrict__ shares, int n,
                                         u8* __restrict__ out_hashes,
                                         u8* __restrict__ out_flags) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const Share& sh = shares[idx];
    u8* out = out_hashes + (long long)idx * 32;
    if (sh.job < 0 || sh.extranonce2_len != jobs[sh.job].extranonce2_size) {
        for (int i = 0; i < 32; ++i) out[i] = 0;
        out_flags[idx] = 0;
        return;
    }
    const Job& job = jobs[sh.job];

    // Coinbase: coinb1 | extranonce1 | extranonce2 | coinb2, then SHA256d.
    Sha256Stream c;
    stream_init(c);
    stream_bytes(c, job_bytes + job.coinb1_off, job.coinb1_len);
    stream_bytes(c, job_bytes + job.extranonce1_off, job.extranonce1_len);
    stream_bytes(c, sh.extranonce2, job.extranonce2_size);
    stream_bytes(c, job_bytes + job.coinb2_off, job.coinb2_len);
    stream_final(c);
    u32 root[8];
    sha256_of_digest(c.s, root);

    // Merkle folding: root = SHA256d(root | branch[k]).
    for (u32 k = 0; k < job.branch_len; ++k) {
        const u8* br = branches + (long long)(job.branch_off + k) * 32;
        u32 s[8], w[16];
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            w[i] = root[i];
            w[8 + i] = load_be32(br + 4 * i);
        }
        sha256_init(s);
        sha256_compress(s, w);
        w[0] = 0x80000000u;
#pragma unroll
        for (int i = 1; i < 15; ++i) w[i] = 0u;
        w[15] = 512u;
        sha256_compress(s, w);
        sha256_of_digest(s, root);
    }

    // Header with the rolled version; integers are little-endian, so each word is the
    // byte swap of the value when read big-endian.
    u32 version = (job.version & ~job.version_mask) | (sh.version_bits & job.version_mask);
    u32 hw[20];
    hw[0] = bswap32(version);
#pragma unroll
    for (int i = 0; i < 8; ++i) hw[1 + i] = load_be32(job.prevhash + 4 * i);
#pragma unroll
    for (int i = 0; i < 8; ++i) hw[9 + i] = root[i];
    hw[17] = bswap32(sh.ntime);
    hw[18] = bswap32(job.nbits);
    hw[19] = bswap32(sh.nonce);
    u32 h[8];
    sha256d_header(hw, h);

    store_digest(h, out);
    u32 flags = FLAG_HASHED;
    if (digest_leq(h, job.share_target)) flags |= FLAG_SHARE;
    if (digest_leq(h, job.network_target)) flags |= FLAG_NETWORK;
    out_flags[idx] = (u8)flags;
}

// Header-only checks: SHA256d of raw 80-byte headers against per-header LE targets.
extern "C" __global__ void check_headers(const u8* __restrict__ headers,
                                         const u8* __restrict__ targets, int n,
                                         int target_stride, u8* __restrict__ out_hashes,
                                         u8* __restrict__ out_ok) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const u8* hp = headers + (long long)idx * 80;
    u32 hw[20];
#pragma unroll
    for (int i = 0; i < 20; ++i) hw[i] = load_be32(hp + 4 * i);
    u32 h[8];
    sha256d_header(hw, h);
    store_digest(h, out_hashes + (long long)idx * 32);
    out_ok[idx] = digest_leq(h, targets + (long long)idx * target_stride) ? 1 : 0;
}
