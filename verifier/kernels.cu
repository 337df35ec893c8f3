// valedger share verification kernels: one thread per share (or per header).
//
// The whole Stratum path runs on the device: coinbase assembly from the job's bytes and
// the share's extranonce2, coinbase SHA256d, merkle-branch folding, version rolling,
// header SHA256d and the comparison against the share and network targets.
// The Job and Share structs mirror JOB_DTYPE and SHARE_DTYPE in packed.py; JobPlan
// mirrors PLAN_DTYPE in cuda.py.
//
// Per-job work is done once per job by prepare_jobs, not once per share: every byte of a
// job's coinbase except the share's extranonce2 is known before any share is looked at,
// so the job's whole padded coinbase is laid out as big-endian message words (zeros where
// extranonce2 goes) and the SHA-256 state after the blocks that end before extranonce2
// begins (the midstate) is computed. A share then starts from the midstate, reads whole
// words, ORs in its extranonce2 and compresses only the remaining blocks. Everything a
// share touches is loaded as whole words (16-byte vectors where aligned) and its working
// set stays in registers: no byte-at-a-time streams, no run-time indexed arrays.
//
// Self-contained on purpose (no headers): NVRTC compiles it as is, and the host tests
// compile it with a C++ compiler after defining the CUDA qualifiers away.

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

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

// Filled by the host: word_off, blocks, extranonce2_at; by prepare_jobs: the rest.
struct JobPlan {
    u32 word_off;        // where the job's padded coinbase words start in job_words
    u32 blocks;          // 64-byte blocks of the padded coinbase
    u32 extranonce2_at;  // byte offset of extranonce2 in the coinbase
    u32 first_block;     // first block a share must compress (extranonce2_at / 64)
    u32 midstate[8];     // SHA-256 state after blocks [0, first_block)
    u32 prevhash[8];     // big-endian message words of prevhash
    u32 share_target[8];    // little-endian 32-bit limbs, least significant first
    u32 network_target[8];  // the same for the network target
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

// The low word of (hi:lo) >> n, for 0 <= n < 32 (a funnel shift on the GPU).
__device__ __forceinline__ u32 funnel_right(u32 lo, u32 hi, u32 n) {
    return (u32)((((u64)hi << 32) | (u64)lo) >> n);
}

__device__ __forceinline__ u32 bswap32(u32 x) {
    return (x >> 24) | ((x >> 8) & 0x0000ff00u) | ((x << 8) & 0x00ff0000u) | (x << 24);
}

__device__ __forceinline__ void sha256_init(u32 s[8]) {
    s[0] = 0x6a09e667u; s[1] = 0xbb67ae85u; s[2] = 0x3c6ef372u; s[3] = 0xa54ff53au;
    s[4] = 0x510e527fu; s[5] = 0x9b05688cu; s[6] = 0x1f83d9abu; s[7] = 0x5be0cd19u;
}

// One SHA-256 compression of the 16 big-endian message words in w (w is clobbered).
// Inlined everywhere, so words the caller sets to constants (padding) fold away.
__device__ __forceinline__ void sha256_compress(u32 s[8], u32 w[16]) {
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
__device__ __forceinline__ void sha256_of_digest(const u32 d[8], u32 s[8]) {
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

// Reads 8 little-endian words at p (4-byte aligned).
__device__ __forceinline__ void load_words8(const u8* p, u32 out[8]) {
    const u32* q = (const u32*)p;
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = q[i];
}

// Reads 32 bytes at p (16-byte aligned) as 8 big-endian message words.
__device__ __forceinline__ void load_be_words8_aligned(const u8* p, u32 out[8]) {
    const uint4* q = (const uint4*)p;
    uint4 lo = q[0], hi = q[1];
    out[0] = bswap32(lo.x); out[1] = bswap32(lo.y); out[2] = bswap32(lo.z); out[3] = bswap32(lo.w);
    out[4] = bswap32(hi.x); out[5] = bswap32(hi.y); out[6] = bswap32(hi.z); out[7] = bswap32(hi.w);
}

// Writes the 32-byte big-endian serialisation of d[8] to out (16-byte aligned).
__device__ __forceinline__ void store_digest(const u32 d[8], u8* out) {
    uint4* q = (uint4*)out;
    q[0] = make_uint4(bswap32(d[0]), bswap32(d[1]), bswap32(d[2]), bswap32(d[3]));
    q[1] = make_uint4(bswap32(d[4]), bswap32(d[5]), bswap32(d[6]), bswap32(d[7]));
}

__device__ __forceinline__ void store_zero_digest(u8* out) {
    uint4* q = (uint4*)out;
    q[0] = make_uint4(0u, 0u, 0u, 0u);
    q[1] = make_uint4(0u, 0u, 0u, 0u);
}

// True when the digest d (serialised big-endian), read as a little-endian 256-bit
// integer, is at most the target given as little-endian 32-bit limbs t[8]. Limb i of the
// digest is bswap32(d[i]); limb 7 is the most significant.
__device__ __forceinline__ bool digest_leq(const u32 d[8], const u32 t[8]) {
    bool leq = true;  // equal so far from the top: equal counts as meeting the target
#pragma unroll
    for (int i = 0; i < 8; ++i) {  // least significant limb first; higher limbs override
        u32 v = bswap32(d[i]);
        leq = (v < t[i]) || (v == t[i] && leq);
    }
    return leq;
}

// SHA256d of an 80-byte header given as 20 big-endian words; result in h.
__device__ __forceinline__ void sha256d_header(const u32 hw[20], u32 h[8]) {
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

// The byte at position pos of a job's padded coinbase (extranonce2's bytes read as zero).
__device__ u32 coinbase_byte(const Job& job, const u8* job_bytes, u32 e2_at, u32 length,
                             u32 blocks, u32 pos) {
    u32 prefix = job.coinb1_len;
    if (pos < prefix) return job_bytes[job.coinb1_off + pos];
    if (pos < e2_at) return job_bytes[job.extranonce1_off + (pos - prefix)];
    u32 suffix_at = e2_at + job.extranonce2_size;
    if (pos < suffix_at) return 0u;
    if (pos < length) return job_bytes[job.coinb2_off + (pos - suffix_at)];
    if (pos == length) return 0x80u;
    u32 tail = blocks * 64u - pos;  // 8..1 over the 64-bit big-endian bit length
    if (tail <= 4u) return ((length << 3) >> ((tail - 1u) * 8u)) & 0xffu;
    return 0u;  // zero padding, and the length's high word (coinbases are < 512 MiB)
}

// One thread per job: lays out the padded coinbase words and computes the midstate; also
// converts prevhash and the targets to the word forms the share kernel reads.
extern "C" __global__ void prepare_jobs(const Job* __restrict__ jobs,
                                        const u8* __restrict__ job_bytes, int n,
                                        JobPlan* __restrict__ plans,
                                        u32* __restrict__ job_words) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const Job& job = jobs[idx];
    JobPlan& plan = plans[idx];
    u32 e2_at = plan.extranonce2_at;
    u32 length = e2_at + job.extranonce2_size + job.coinb2_len;
    u32 s[8];
    sha256_init(s);
    for (u32 b = 0; b < plan.blocks; ++b) {
        u32 w[16];
#pragma unroll
        for (int q = 0; q < 16; ++q) {
            u32 word = 0u;
#pragma unroll
            for (int t = 0; t < 4; ++t) {
                u32 pos = b * 64u + (u32)(q * 4 + t);
                word |= coinbase_byte(job, job_bytes, e2_at, length, plan.blocks, pos)
                        << (24 - 8 * t);
            }
            w[q] = word;
            job_words[plan.word_off + b * 16u + (u32)q] = word;
        }
        if (b < plan.first_block) sha256_compress(s, w);
    }
    u32 limbs[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) plan.midstate[i] = s[i];
    load_words8(job.prevhash, limbs);
#pragma unroll
    for (int i = 0; i < 8; ++i) plan.prevhash[i] = bswap32(limbs[i]);
    load_words8(job.share_target, limbs);
#pragma unroll
    for (int i = 0; i < 8; ++i) plan.share_target[i] = limbs[i];
    load_words8(job.network_target, limbs);
#pragma unroll
    for (int i = 0; i < 8; ++i) plan.network_target[i] = limbs[i];
}

// The share's extranonce2 as the big-endian words it occupies in the coinbase: y[k] is
// coinbase word (extranonce2_at / 4 + k), with zeros outside extranonce2's bytes.
__device__ __forceinline__ void extranonce2_words(const Share& sh, u32 size, u32 e2_at,
                                                  u32 y[9]) {
    u32 x[8];
    load_words8(sh.extranonce2, x);
    u32 shift = (e2_at & 3u) * 8u;
    u32 prev = 0u;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
        int valid = (int)size - 4 * k;  // bytes of word k that belong to extranonce2
        u32 word = bswap32(x[k]);
        word = valid >= 4 ? word : (valid <= 0 ? 0u : word & (0xffffffffu << (32 - 8 * valid)));
        y[k] = funnel_right(word, prev, shift);
        prev = word;
    }
    y[8] = funnel_right(0u, prev, shift);
}

#ifndef VERIFY_MIN_BLOCKS
#define VERIFY_MIN_BLOCKS 2  // blocks of 256 per SM the register budget must allow (fastest
                              // without spilling on an H200: bench/RESULTS.md)
#endif

extern "C" __global__ void __launch_bounds__(256, VERIFY_MIN_BLOCKS) verify_shares(
        const Job* __restrict__ jobs, const JobPlan* __restrict__ plans,
        const u32* __restrict__ job_words, const u8* __restrict__ branches,
        const Share* __restrict__ shares, int n, u8* __restrict__ out_hashes,
        u8* __restrict__ out_flags) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const Share& sh = shares[idx];
    u8* out = out_hashes + (long long)idx * 32;
    int j = sh.job;
    if (j < 0 || sh.extranonce2_len != jobs[j].extranonce2_size) {
        store_zero_digest(out);
        out_flags[idx] = 0;
        return;
    }
    const Job& job = jobs[j];
    const JobPlan& plan = plans[j];

    // Coinbase: from the midstate, the job's words with the share's extranonce2 ORed in.
    u32 y[9];
    extranonce2_words(sh, job.extranonce2_size, plan.extranonce2_at, y);
    int e2_word = (int)(plan.extranonce2_at >> 2);
    u32 s[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) s[i] = plan.midstate[i];
    const uint4* words = (const uint4*)(job_words + plan.word_off);
    for (u32 b = plan.first_block; b < plan.blocks; ++b) {
        u32 w[16];
#pragma unroll
        for (int v = 0; v < 4; ++v) {
            uint4 q = words[b * 4u + (u32)v];
            w[4 * v] = q.x; w[4 * v + 1] = q.y; w[4 * v + 2] = q.z; w[4 * v + 3] = q.w;
        }
        int base = (int)(b * 16u) - e2_word;  // word q of this block is y[base + q]
        if (base > -16 && base < 9) {
#pragma unroll
            for (int q = 0; q < 16; ++q) {
#pragma unroll
                for (int k = 0; k < 9; ++k) w[q] |= (base + q == k) ? y[k] : 0u;
            }
        }
        sha256_compress(s, w);
    }
    u32 root[8];
    sha256_of_digest(s, root);

    // Merkle folding: root = SHA256d(root | branch[k]).
    const u8* branch = branches + (long long)job.branch_off * 32;
    for (u32 k = 0; k < job.branch_len; ++k) {
        u32 w[16];
#pragma unroll
        for (int i = 0; i < 8; ++i) w[i] = root[i];
        load_be_words8_aligned(branch + (long long)k * 32, w + 8);
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
    for (int i = 0; i < 8; ++i) hw[1 + i] = plan.prevhash[i];
#pragma unroll
    for (int i = 0; i < 8; ++i) hw[9 + i] = root[i];
    hw[17] = bswap32(sh.ntime);
    hw[18] = bswap32(job.nbits);
    hw[19] = bswap32(sh.nonce);
    u32 h[8];
    sha256d_header(hw, h);

    store_digest(h, out);
    u32 flags = FLAG_HASHED;
    if (digest_leq(h, plan.share_target)) flags |= FLAG_SHARE;
    if (digest_leq(h, plan.network_target)) flags |= FLAG_NETWORK;
    out_flags[idx] = (u8)flags;
}

// Header-only checks: SHA256d of raw 80-byte headers against per-header LE targets
// (target_stride 32) or one target for all (target_stride 0). Headers are read as five
// 16-byte vectors and hashes written as two.
extern "C" __global__ void __launch_bounds__(256) check_headers(
        const u8* __restrict__ headers, const u8* __restrict__ targets, int n,
        int target_stride, u8* __restrict__ out_hashes, u8* __restrict__ out_ok) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n) return;
    const uint4* hp = (const uint4*)(headers + (long long)idx * 80);
    u32 hw[20];
#pragma unroll
    for (int v = 0; v < 5; ++v) {
        uint4 q = hp[v];
        hw[4 * v] = bswap32(q.x); hw[4 * v + 1] = bswap32(q.y);
        hw[4 * v + 2] = bswap32(q.z); hw[4 * v + 3] = bswap32(q.w);
    }
    u32 h[8];
    sha256d_header(hw, h);
    store_digest(h, out_hashes + (long long)idx * 32);
    u32 t[8];
    load_words8(targets + (long long)idx * target_stride, t);
    out_ok[idx] = digest_leq(h, t) ? 1 : 0;
}
