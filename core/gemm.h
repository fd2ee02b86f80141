/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Matrix products: the single door every product in smolserve goes
 * through. Two backends sit behind it:
 *
 *  - "packed": smolserve's own register-blocked kernel (gemm-simd.c, AVX-512
 *    or AVX2 + FMA, picked from CPUID) on weights laid out once at load in
 *    panels of GEMM_NR columns (dense_pack), so no product repacks its
 *    weights, with the bias, activation, residual and LayerNorm applied to
 *    each block of rows while it is still in cache;
 *  - "openblas": OpenBLAS's cblas_sgemm on the weights as the checkpoint
 *    stores them (gemm.c is the only file that includes cblas.h);
 *  - "amx": on CPUs with Intel AMX (Sapphire Rapids and later), the packed
 *    backend with the products of enough rows on AMX tiles (gemm-amx.c:
 *    each fp32 value split in three bf16 parts, six bf16 products per
 *    fp32 one, fp32 sums: fp32's accuracy), the same weights' layout.
 *    Small products and attention's stay on the packed kernel.
 *
 * Both split a product over the caller's compute team (team.h) and run
 * OpenBLAS single-threaded inside it: one pool of threads, never two.
 * Which backend runs is decided at run time (gemm_backend_set, per shape
 * class; see gemm_backend_for) and reported by gemm_backend_describe.
 *
 * It also decides which OpenBLAS kernel set this CPU should run
 * (gemm_core_choose), for server/main.c to act on at start-up.
 */
#ifndef SMOLSERVE_CORE_GEMM_H
#define SMOLSERVE_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "team.h"

/* Columns per packed panel. */
#define GEMM_NR 32

/* Weights laid out for the packed kernel: ceil(n_out / GEMM_NR) panels,
 * panel p holding rows [32p, 32p + 32) of w transposed, (n_in, 32)
 * row-major, zero beyond n_out. Owned by whoever packed it. */
struct gemm_packed {
	const float *panels; /* (n_panels, n_in, GEMM_NR) */
	int32_t n_in;
	int32_t n_out;
	int32_t n_panels;
};

/* torch.nn.Linear: y = x w^T + b. Pointers borrowed (from the mmapped
 * checkpoint, or from the model's load-time copies). */
struct dense {
	const float *w; /* (n_out, n_in), or NULL when only `packed` exists */
	const float *b; /* (n_out) or NULL */
	int32_t n_in;
	int32_t n_out;
	const struct gemm_packed *packed; /* NULL: not laid out for the packed kernel */
};

/*
 * What happens to a product's output before dense_forward returns:
 * y = norm(act(x w^T + b) + residual), each part optional. A residual equal
 * to y (same rows, same stride) is accumulated onto in place (then without
 * an activation); another one is added block by block. The activation and
 * the norm do not combine.
 */
struct dense_epilogue {
	enum activation act;         /* ACT_NONE: none */
	const float *residual;       /* (m, n_out) rows of stride ld_residual, or NULL */
	size_t ld_residual;          /* row stride of residual */
	const struct layer_norm *ln; /* every row normalised (LayerNorm or NoNorm), or NULL */
};

enum gemm_backend {
	GEMM_BACKEND_AUTO = 0, /* amx where usable, packed on AVX2 / AVX-512 CPUs, else OpenBLAS */
	GEMM_BACKEND_PACKED,
	GEMM_BACKEND_OPENBLAS,
	GEMM_BACKEND_AMX,
};

/*
 * y (m, n_out; row stride ldy) = x (m, n_in; row stride ldx) . d^T + bias,
 * then the epilogue ep (NULL: none). Split over team t (NULL: the calling
 * thread alone). x must not overlap y. Runs d->packed with the packed
 * backend, else d->w with OpenBLAS (d->w must then be set). Owner thread of
 * t only.
 */
void dense_forward(struct team *t, const struct dense *d, float *y, size_t ldy, const float *x,
                   size_t ldx, size_t m, const struct dense_epilogue *ep);

/*
 * The feed-forward block of a post-norm layer, in place:
 * x = norm(x + out(act(in(x)))), with tmp (m, in->n_out; row stride ldt)
 * for the intermediate activations. With the packed backend and enough
 * rows, each block of rows runs both products back to back on one thread,
 * so its intermediate rows never leave L2; otherwise two dense_forward
 * calls. Owner thread of t only.
 */
void dense_ffn_forward(struct team *t, const struct dense *in, enum activation act,
                       const struct dense *out, const struct layer_norm *ln, float *x, size_t ldx,
                       float *tmp, size_t ldt, size_t m);

/*
 * Lays out the concatenation of parts[0..n_parts) (each with w set, all of
 * the same n_in; rows one after another: q, k, v -> one fused QKV) into
 * out->packed, using memory from `mem` (gemm_pack_bytes of the same parts;
 * caller-owned, 64-byte aligned) and `packed` (caller-owned descriptor).
 * out gets n_in, n_out = the sum, w = parts[0]->w if n_parts == 1 else
 * NULL, and b = `bias` (caller-owned, filled here with the parts' biases,
 * zeros where a part has none; may be NULL if no part has a bias). Load
 * time only; any thread.
 */
void dense_pack(struct dense *out, const struct dense *const *parts, int n_parts, float *mem,
                struct gemm_packed *packed, float *bias);

/* The descriptors dense_pack fills, for a layout it made earlier (the
 * same parts, kept in a file: models/layout_cache.h); nothing is read. */
void dense_adopt(struct dense *out, const struct dense *const *parts, int n_parts, const float *mem,
                 struct gemm_packed *packed, const float *bias);

/* Bytes dense_pack needs in `mem` for parts (rounded up to 64). */
size_t gemm_pack_bytes(const struct dense *const *parts, int n_parts);

/*
 * y (m, n_out) = x (m, n_in) . w^T + bias: one Linear layer on unpacked
 * weights, on the calling thread (OpenBLAS, single-threaded). Kept for
 * load-time work and callers that hold raw pointers; dense_forward is the
 * door for the forward pass.
 */
void linear(float *y, const float *x, const float *w, const float *bias, size_t m, size_t n_in,
            size_t n_out);

/*
 * c (m, n) = a (m, k) . b (n, k)^T  [+ c if accumulate], and c = a . b:
 * one OpenBLAS call on the calling thread, row-major with leading
 * dimensions. For tests and odd shapes; the encoder uses dense_forward.
 */
void gemm_nt(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k, int accumulate);
void gemm_nn(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k);

/* gemm_nt (no accumulate) as one OpenBLAS call on n_threads of OpenBLAS's
 * own threads, then OpenBLAS back at one: for measuring OpenBLAS alone
 * (bench/). Not while a team runs products. */
void gemm_nt_openblas_mt(float *c, size_t ldc, const float *a, size_t lda, const float *b,
                         size_t ldb, size_t m, size_t n, size_t k, int n_threads);

/*
 * Threads per compute team (one team per worker; each encoder scratch
 * starts one of this size) and OpenBLAS kept at one thread. Call before
 * workers start. gemm_get_threads returns the team size.
 */
void gemm_set_threads(int n_threads);
int gemm_get_threads(void);

/* Which backend dense layers use: set before models load (packing happens
 * at load only for the packed and amx backends, which share the layout).
 * 0, or STATUS_EUNSUPPORTED if the packed backend is asked for on a CPU
 * without AVX2 + FMA, or amx where the CPU, the OS or the build lacks it. */
int gemm_backend_set(enum gemm_backend b, char *err, size_t n_err);

/* The backend (never AUTO: resolved) a dense layer of this shape runs on. */
enum gemm_backend gemm_backend_for(size_t m, size_t n_out, size_t n_in);

/* Parses "auto", "packed", "openblas", "amx"; -1 if none. */
int gemm_backend_parse(const char *name);

/* 1 if the amx backend can run here (CPU, OS and build). Any thread. */
int gemm_amx_available(void);

/* One line for logs and /info, e.g. "packed (avx512 kernel, 14x32 tiles)". */
const char *gemm_backend_describe(void);

/* Bytes the product's threads hold for themselves (the amx backend's split
 * buffers, grown on a thread's first large product, kept until it exits).
 * Any thread. */
size_t gemm_thread_buffer_bytes(void);

/* The packed kernel's ISA: "avx512", "avx2+fma" or "generic". */
const char *gemm_kernel_name(void);

/* OpenBLAS's name for the kernel set in use ("Haswell", "SkylakeX", ...). */
const char *gemm_corename(void);

/* --- OpenBLAS kernel choice ------------------------------------------- */

enum cpu_vendor { CPU_VENDOR_OTHER = 0, CPU_VENDOR_INTEL, CPU_VENDOR_AMD };

/* What CPUID and XGETBV say the CPU and the OS support. */
struct cpu_isa {
	enum cpu_vendor vendor;
	int avx2_fma;    /* AVX2 + FMA3, YMM state enabled by the OS */
	int avx512;      /* AVX-512 F, BW, DQ and VL, ZMM state enabled */
	int avx512_bf16; /* AVX512_BF16 as well */
	int family, model;
	int amx_bf16; /* AMX-TILE and AMX-BF16, tile state enabled in XCR0 (Linux must still
	                 grant it: gemm-amx.c) */
};

/* Fills *out from this CPU. Any thread. */
void cpu_isa_detect(struct cpu_isa *out);

/*
 * Which OpenBLAS core (OPENBLAS_CORETYPE value) this CPU should run, given
 * the core OpenBLAS picked by itself (`picked`, openblas_get_corename()):
 * NULL if `picked` is already as good as the CPU allows (or the CPU has no
 * AVX2), else the name to set. AVX-512 F/BW/DQ/VL -> "SkylakeX" (also for
 * AVX512_BF16 CPUs: Cooperlake's fp32 kernels are SkylakeX's, and
 * OpenBLAS 0.3.21 does not accept "Cooperlake" in OPENBLAS_CORETYPE);
 * AVX2 + FMA -> "Haswell" on Intel and others, "Zen" on AMD. reason
 * (n_reason bytes) says why in one sentence either way. Pure; any thread.
 */
const char *gemm_core_choose(const struct cpu_isa *cpu, const char *picked, char *reason,
                             size_t n_reason);

/* What the start-up did about OpenBLAS's kernels (server/main.c fills it
 * in once, before threads start; /info and the start line read it). */
struct gemm_core_report {
	char action[16];  /* "kept", "set", "user", "off" or "failed" */
	char picked[32];  /* what OpenBLAS picked by itself ("" if not known) */
	char in_use[32];  /* gemm_corename() after the choice */
	char reason[320]; /* one sentence */
};
void gemm_core_report_set(const struct gemm_core_report *r);
const struct gemm_core_report *gemm_core_report(void);

#endif
