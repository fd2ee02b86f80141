/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The door to every product (see gemm.h): the packed backend's blocking
 * and epilogues, the OpenBLAS backend, how a product is split over a
 * compute team, and the load-time packing of weights. gemm.c is the only
 * file that includes cblas.h.
 *
 * A product y = x w^T over a team of T threads is split by rows when there
 * are enough of them (each thread owns whole rows, so the bias, activation,
 * residual and LayerNorm run on each block of MC rows right after its
 * products, while it is in L2), else by columns in whole panels (small
 * requests: each thread streams half the weights), with a second stage for
 * a LayerNorm. Within a thread the packed backend walks MC rows x KC of the
 * inner dimension at a time, every panel of the thread's columns, register
 * tile by register tile (gemm-simd.c).
 */
#include "gemm.h"

#include <assert.h>
#include <cblas.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gemm-impl.h"
#include "status.h"

#define MC     96  /* rows per block: the block's A and C stay in L2 */
#define KC     384 /* inner dimension per block */
#define NP     24  /* panels per column chunk: a KC x 768 slice of B (1.2 MB) stays in L2 */
#define AMX_MR 32  /* amx: rows per block of tiles (gemm-amx.c) */
#define AMX_MC 256 /* amx: rows per unit of a row-split product (gemm-amx.c AMX_MB) */
/* amx: fewer rows per thread than this run on the packed kernel: the
 * weights' trip from memory is most of their time, splitting them into
 * bf16 (gemm-amx.c) adds to it, and AMX starts slowly after an idle spell
 * (one 128 x 384 x 1536 product 20 ms after the last: 1.5-2.3 ms on AMX
 * with 64 rows per thread, 1.0 ms on the packed kernel). */
#define AMX_MIN_ROWS 128

/* Products smaller than this (flops) run on the calling thread alone: a
 * few microseconds of work, which waking the team would cost as much as
 * (and more on a busy machine, where a helper may not be running). */
#define SERIAL_FLOPS 4e6

static int team_threads = 1;
static enum gemm_backend backend = GEMM_BACKEND_AUTO;

/* --- the kernel this CPU runs ------------------------------------------ */

static const struct gemm_kernel GENERIC = {gemm_block_generic, gemm_block_at_generic,
                                           gemm_pack_panel_generic, 0, "generic"};
#ifdef SMOLSERVE_HAVE_AVX2
static const struct gemm_kernel AVX2 = {gemm_block_avx2, gemm_block_at_avx2, gemm_pack_panel_avx2,
                                        0, "avx2+fma"};
#endif
#ifdef SMOLSERVE_HAVE_AVX512
static const struct gemm_kernel AVX512 = {gemm_block_avx512, gemm_block_at_avx512,
                                          gemm_pack_panel_avx512, 0, "avx512"};
#endif

const struct gemm_kernel *gemm_kernel(void)
{
	static struct gemm_kernel chosen;
	static _Atomic int ready;
	if (ready)
		return &chosen;
	struct gemm_kernel k = GENERIC;
	int cap = kernels_isa_cap();
	k.mr = gemm_mr_generic;
	__builtin_cpu_init();
#ifdef SMOLSERVE_HAVE_AVX2
	if (cap >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		k = AVX2;
		k.mr = gemm_mr_avx2;
	}
#endif
#ifdef SMOLSERVE_HAVE_AVX512
	if (cap >= 2 && __builtin_cpu_supports("avx512f")) {
		k = AVX512;
		k.mr = gemm_mr_avx512;
	}
#endif
	chosen = k; /* every thread computes the same answer: a benign race */
	ready = 1;
	return &chosen;
}

size_t gemm_thread_buffer_bytes(void)
{
#ifdef SMOLSERVE_HAVE_AMX
	return gemm_amx_buffer_bytes();
#else
	return 0;
#endif
}

const char *gemm_kernel_name(void)
{
	return gemm_kernel()->name;
}

int gemm_amx_available(void)
{
#ifdef SMOLSERVE_HAVE_AMX
	return kernels_isa_cap() >= 2 && gemm_amx_usable();
#else
	return 0;
#endif
}

/* --- settings ---------------------------------------------------------- */

void gemm_set_threads(int n_threads)
{
	team_threads = n_threads > 0 ? n_threads : 1;
	openblas_set_num_threads(1); /* the team is the only pool */
}

int gemm_get_threads(void)
{
	return team_threads;
}

static int packed_fast(void)
{
	return gemm_kernel()->block != gemm_block_generic;
}

int gemm_backend_set(enum gemm_backend b, char *err, size_t n_err)
{
	if (b == GEMM_BACKEND_PACKED && !packed_fast())
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "the packed GEMM backend needs AVX2 + FMA or AVX-512; this CPU "
		                   "has neither (use openblas or auto)");
	if (b == GEMM_BACKEND_AMX && !gemm_amx_available())
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "the amx GEMM backend needs Intel AMX (AMX-TILE, AMX-BF16 and "
		                   "AVX512-BF16) and a Linux kernel that grants the tile state "
		                   "(5.16 or later); this machine or build lacks one of them (use "
		                   "packed, openblas or auto)");
	backend = b;
	return 0;
}

int gemm_backend_parse(const char *name)
{
	static const char *const NAMES[] = {"auto", "packed", "openblas", "amx"};
	for (int i = 0; i < 4; i++)
		if (strcmp(name, NAMES[i]) == 0)
			return i;
	return -1;
}

enum gemm_backend gemm_backend_for(size_t m, size_t n_out, size_t n_in)
{
	(void)m, (void)n_out, (void)n_in; /* one class today: see bench/README.md */
	if (backend != GEMM_BACKEND_AUTO)
		return backend;
	if (gemm_amx_available())
		return GEMM_BACKEND_AMX;
	return packed_fast() ? GEMM_BACKEND_PACKED : GEMM_BACKEND_OPENBLAS;
}

const char *gemm_backend_describe(void)
{
	static char text[128];
	const struct gemm_kernel *k = gemm_kernel();
	enum gemm_backend b = gemm_backend_for(1, 1, 1);
	if (b == GEMM_BACKEND_OPENBLAS)
		snprintf(text, sizeof(text),
		         "openblas (%s kernels, single-threaded per team thread)", gemm_corename());
	else if (b == GEMM_BACKEND_AMX)
		snprintf(text, sizeof(text),
		         "amx (batches on AMX tiles, bf16x3 at fp32 accuracy; the rest on the "
		         "%s kernel)",
		         k->name);
	else
		snprintf(text, sizeof(text), "packed (%s kernel, %dx%d tiles)", k->name, k->mr,
		         GEMM_NR);
	return text;
}

const char *gemm_corename(void)
{
	const char *name = openblas_get_corename();
	return name != NULL ? name : "unknown";
}

/* --- packing ------------------------------------------------------------ */

static int32_t parts_rows(const struct dense *const *parts, int n_parts)
{
	int32_t n = 0;
	for (int i = 0; i < n_parts; i++)
		n += parts[i]->n_out;
	return n;
}

size_t gemm_pack_bytes(const struct dense *const *parts, int n_parts)
{
	size_t panels = ((size_t)parts_rows(parts, n_parts) + GEMM_NR - 1) / GEMM_NR;
	size_t bytes = panels * (size_t)parts[0]->n_in * GEMM_NR * sizeof(float);
	return (bytes + 63) & ~(size_t)63;
}

/* Row r of the concatenation of parts (NULL past the end); *bias_out its
 * bias (0 without one). */
static const float *part_row(const struct dense *const *parts, int n_parts, int32_t r,
                             float *bias_out)
{
	for (int i = 0; i < n_parts; i++) {
		if (r < parts[i]->n_out) {
			*bias_out = parts[i]->b != NULL ? parts[i]->b[r] : 0.0f;
			return parts[i]->w + (size_t)r * (size_t)parts[i]->n_in;
		}
		r -= parts[i]->n_out;
	}
	*bias_out = 0.0f;
	return NULL;
}

void dense_adopt(struct dense *out, const struct dense *const *parts, int n_parts, const float *mem,
                 struct gemm_packed *packed, const float *bias)
{
	int32_t n_in = parts[0]->n_in, n_out = parts_rows(parts, n_parts);
	*packed = (struct gemm_packed){mem, n_in, n_out, (n_out + GEMM_NR - 1) / GEMM_NR};
	*out = (struct dense){n_parts == 1 ? parts[0]->w : NULL, bias, n_in, n_out, packed};
}

void dense_pack(struct dense *out, const struct dense *const *parts, int n_parts, float *mem,
                struct gemm_packed *packed, float *bias)
{
	int32_t n_in = parts[0]->n_in, n_out = parts_rows(parts, n_parts);
	int32_t n_panels = (n_out + GEMM_NR - 1) / GEMM_NR;
	size_t stride = (size_t)n_in * GEMM_NR;
	for (int32_t p = 0; p < n_panels; p++) {
		const float *src[GEMM_NR];
		float b;
		for (int j = 0; j < GEMM_NR; j++) {
			src[j] = part_row(parts, n_parts, p * GEMM_NR + j, &b);
			if (bias != NULL && p * GEMM_NR + j < n_out)
				bias[p * GEMM_NR + j] = b;
		}
		gemm_kernel()->pack_panel(mem + (size_t)p * stride, src, n_in);
	}
	dense_adopt(out, parts, n_parts, mem, packed, bias);
}

/* --- one thread's share of a product ---------------------------------- */

struct dense_job {
	const struct dense *d;
	float *y;
	size_t ldy;
	const float *x;
	size_t ldx;
	size_t m;
	struct dense_epilogue ep;
	enum gemm_backend be;
	int by_rows; /* rows split over the team (else columns, LN in a 2nd stage) */
	/* packed: units (blocks of rows, or groups of panels) handed out one at
	 * a time, so a thread the machine slows down takes fewer of them */
	long unit; /* rows or panels per unit */
	long n_units;
	atomic_long next;
	const struct dense_job *then; /* by rows: run on each row block next (FFN out) */
};

/* 1 if the residual is y itself: the product accumulates onto it. */
static int in_place(const struct dense_job *j)
{
	return j->ep.residual == j->y && j->ep.ld_residual == j->ldy;
}

/* 1 if the packed kernel applies the bias and activation to its tiles in
 * registers (the epilogue then has nothing left to do but a norm): no
 * norm, no separate residual, and no activation on top of one. */
static int epilogue_in_tiles(const struct dense_job *j)
{
	return !(j->ep.ln != NULL && j->by_rows) && (j->ep.residual == NULL || in_place(j)) &&
	       (j->ep.residual == NULL || j->ep.act == ACT_NONE);
}

/* Bias, activation, residual and norm over rows [r0, r1) x columns
 * [c0, c1) of y (the norm only when the rows are whole); the bias and
 * activation only if the tiles did not (tiled = 1). */
static void epilogue(const struct dense_job *j, size_t r0, size_t r1, size_t c0, size_t c1,
                     int tiled)
{
	float *y = j->y + r0 * j->ldy;
	const float *bias = j->d->b != NULL && !tiled ? j->d->b + c0 : NULL;
	enum activation act = tiled ? ACT_NONE : j->ep.act;
	int norm_now = j->ep.ln != NULL && j->by_rows;
	int extra_residual = j->ep.residual != NULL && !in_place(j);
	/* The common case, LN(x w^T + b + x) in place, is one pass. */
	int bias_in_norm = norm_now && act == ACT_NONE && !extra_residual;
	if ((bias != NULL && !bias_in_norm) || act != ACT_NONE)
		bias_act_rows(y + c0, j->ldy, bias, r1 - r0, c1 - c0, act);
	if (extra_residual)
		for (size_t r = r0; r < r1; r++) {
			float *row = j->y + r * j->ldy;
			const float *res = j->ep.residual + r * j->ep.ld_residual;
			for (size_t c = c0; c < c1; c++)
				row[c] += res[c];
		}
	if (norm_now)
		bias_norm_rows(y, j->ldy, bias_in_norm ? bias : NULL, j->ep.ln, r1 - r0, c1 - c0);
}

/* MC rounded up to whole register tiles. */
static size_t row_block(void)
{
	size_t mr = (size_t)gemm_kernel()->mr;
	return (MC + mr - 1) / mr * mr;
}

/*
 * How a row-split product of m rows is cut for n threads: *n_units blocks of
 * *unit rows (whole register tiles of mr rows, at most about mc), their count a
 * multiple of n so that every thread gets the same share. Blocks of plain
 * MC rows would give one 128-row request a 98-row and a 30-row block on two
 * threads: one thread idle for half the product.
 */
static void row_units(size_t m, int n, size_t mr, size_t mc, long *unit, long *n_units)
{
	size_t rounds = (m + (size_t)n * mc - 1) / ((size_t)n * mc);
	size_t count = rounds * (size_t)n;
	size_t u = (m + count - 1) / count;
	u = (u + mr - 1) / mr * mr;
	*unit = (long)u;
	*n_units = (long)((m + u - 1) / u);
}

static void run_packed(const struct dense_job *j, size_t r0, size_t r1, int p0, int p1)
{
	const struct gemm_kernel *k = gemm_kernel();
	const struct gemm_packed *P = j->d->packed;
	size_t n_in = (size_t)P->n_in, stride = n_in * GEMM_NR, n_out = (size_t)P->n_out;
	int whole_rows = j->ep.ln != NULL && j->by_rows; /* a norm: epilogue per row block */
	int tiled = epilogue_in_tiles(j);
	size_t mc = row_block();
	for (size_t i0 = r0; i0 < r1; i0 += mc) {
		size_t mb = r1 - i0 < mc ? r1 - i0 : mc;
		for (int q0 = p0; q0 < p1; q0 += NP) {
			int q1 = p1 - q0 < NP ? p1 : q0 + NP;
			size_t c0 = (size_t)q0 * GEMM_NR;
			size_t c1 = (size_t)q1 * GEMM_NR < n_out ? (size_t)q1 * GEMM_NR : n_out;
			struct gemm_epi epi = {j->d->b != NULL ? j->d->b + c0 : NULL, j->ep.act,
			                       NULL};
			for (size_t k0 = 0; k0 < n_in; k0 += KC) {
				size_t kb = n_in - k0 < KC ? n_in - k0 : KC;
				int last = k0 + kb == n_in;
				k->block(j->y + i0 * j->ldy + c0, j->ldy, j->x + i0 * j->ldx + k0,
				         j->ldx, P->panels + (size_t)q0 * stride + k0 * GEMM_NR,
				         stride, GEMM_NR, q1 - q0,
				         (int)(c1 - (size_t)(q1 - 1) * GEMM_NR), (int)mb, (int)kb,
				         k0 > 0 || in_place(j), tiled && last ? &epi : NULL);
			}
			if (!whole_rows && !tiled)
				epilogue(j, i0, i0 + mb, c0, c1, 0);
		}
		if (whole_rows)
			epilogue(j, i0, i0 + mb, 0, n_out, 0);
	}
}

#ifdef SMOLSERVE_HAVE_AMX
/* The amx backend's share: rows [r0, r1), panels [p0, p1), gemm-amx.c's
 * blocks; then the epilogue the tiles did not apply, on rows still in L2. */
static void run_amx(const struct dense_job *j, size_t r0, size_t r1, int p0, int p1)
{
	const struct gemm_packed *P = j->d->packed;
	size_t stride = (size_t)P->n_in * GEMM_NR, n_out = (size_t)P->n_out;
	size_t c0 = (size_t)p0 * GEMM_NR;
	size_t c1 = (size_t)p1 * GEMM_NR < n_out ? (size_t)p1 * GEMM_NR : n_out;
	int tiled = epilogue_in_tiles(j);
	gemm_amx_rows(j->y + r0 * j->ldy + c0, j->ldy, j->x + r0 * j->ldx, j->ldx, (int)(r1 - r0),
	              P->n_in, P->panels + (size_t)p0 * stride, stride, p1 - p0,
	              (int)(c1 - (size_t)(p1 - 1) * GEMM_NR),
	              tiled && j->d->b != NULL ? j->d->b + c0 : NULL, tiled ? j->ep.act : ACT_NONE,
	              in_place(j));
	if (!tiled)
		epilogue(j, r0, r1, c0, c1, 0);
}
#endif

/* Rows [r0, r1) x panels [p0, p1) on the job's kernel: amx or packed. */
static void run_laid_out(const struct dense_job *j, size_t r0, size_t r1, int p0, int p1)
{
#ifdef SMOLSERVE_HAVE_AMX
	if (j->be == GEMM_BACKEND_AMX) {
		run_amx(j, r0, r1, p0, p1);
		return;
	}
#endif
	run_packed(j, r0, r1, p0, p1);
}

/* The kernel a laid-out product of m rows runs on over n threads (the
 * backend be asked for: amx only for enough rows), its rows per register
 * tile and per row unit. */
static enum gemm_backend laid_out(enum gemm_backend be, size_t m, int n, size_t *mr, size_t *mc)
{
	if (be == GEMM_BACKEND_AMX && m >= (size_t)n * AMX_MIN_ROWS) {
		*mr = AMX_MR;
		*mc = AMX_MC;
		return GEMM_BACKEND_AMX;
	}
	*mr = (size_t)gemm_kernel()->mr;
	*mc = row_block();
	return GEMM_BACKEND_PACKED;
}

static void run_openblas(const struct dense_job *j, size_t r0, size_t r1, size_t c0, size_t c1)
{
	static _Atomic int single;
	size_t n_in = (size_t)j->d->n_in;
	if (!single) { /* the team is the only pool, even if gemm_set_threads never ran */
		openblas_set_num_threads(1);
		single = 1;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)(r1 - r0), (blasint)(c1 - c0),
	            (blasint)n_in, 1.0f, j->x + r0 * j->ldx, (blasint)j->ldx, j->d->w + c0 * n_in,
	            (blasint)n_in, in_place(j) ? 1.0f : 0.0f, j->y + r0 * j->ldy + c0,
	            (blasint)j->ldy);
	for (size_t i0 = r0; i0 < r1; i0 += MC)
		epilogue(j, i0, i0 + MC < r1 ? i0 + MC : r1, c0, c1, 0);
}

static void dense_part(void *arg, int i, int n)
{
	struct dense_job *j = arg;
	size_t n_out = (size_t)j->d->n_out;
	long n_panels = (long)((n_out + GEMM_NR - 1) / GEMM_NR), r0, r1, p0, p1;
	if (j->be != GEMM_BACKEND_OPENBLAS) { /* laid out: packed or amx */
		for (;;) {
			long u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
			if (u >= j->n_units)
				return;
			long lo = u * j->unit, total = j->by_rows ? (long)j->m : n_panels;
			long hi = lo + j->unit < total ? lo + j->unit : total;
			if (j->by_rows) {
				run_laid_out(j, (size_t)lo, (size_t)hi, 0, (int)n_panels);
				if (j->then != NULL) /* its input rows are still in L2 */
					run_laid_out(j->then, (size_t)lo, (size_t)hi, 0,
					             (j->then->d->n_out + GEMM_NR - 1) / GEMM_NR);
			} else
				run_laid_out(j, 0, j->m, (int)lo, (int)hi);
		}
	}
	if (j->by_rows) { /* OpenBLAS: one call per thread, it repacks per call */
		team_split((long)j->m, gemm_kernel()->mr, i, n, &r0, &r1);
		p0 = 0;
		p1 = n_panels;
	} else {
		r0 = 0;
		r1 = (long)j->m;
		team_split(n_panels, 1, i, n, &p0, &p1);
	}
	if (r0 >= r1 || p0 >= p1)
		return;
	size_t c1 = (size_t)p1 * GEMM_NR < n_out ? (size_t)p1 * GEMM_NR : n_out;
	run_openblas(j, (size_t)r0, (size_t)r1, (size_t)p0 * GEMM_NR, c1);
}

/* Second stage of a column-split product with a norm: whole rows. */
static void norm_part(void *arg, int i, int n)
{
	struct dense_job *j = arg;
	long r0, r1;
	team_split((long)j->m, 1, i, n, &r0, &r1);
	if (r0 < r1)
		bias_norm_rows(j->y + (size_t)r0 * j->ldy, j->ldy, NULL, j->ep.ln,
		               (size_t)(r1 - r0), (size_t)j->d->n_out);
}

void dense_forward(struct team *t, const struct dense *d, float *y, size_t ldy, const float *x,
                   size_t ldx, size_t m, const struct dense_epilogue *ep)
{
	struct dense_job j = {.d = d,
	                      .y = y,
	                      .ldy = ldy,
	                      .x = x,
	                      .ldx = ldx,
	                      .m = m,
	                      .ep = {ACT_NONE, NULL, 0, NULL},
	                      .be = GEMM_BACKEND_OPENBLAS,
	                      .by_rows = 1,
	                      .unit = 1};
	if (m == 0)
		return;
	if (ep != NULL)
		j.ep = *ep;
	assert(!(in_place(&j) && j.ep.act != ACT_NONE)); /* act(x w^T + b) + y: unsupported */
	j.be = gemm_backend_for(m, (size_t)d->n_out, (size_t)d->n_in);
	if (j.be != GEMM_BACKEND_OPENBLAS && d->packed == NULL)
		j.be = GEMM_BACKEND_OPENBLAS;
	if (j.be == GEMM_BACKEND_OPENBLAS && d->w == NULL) /* a fused layout only */
		j.be = GEMM_BACKEND_PACKED;
	t = team_for(t, 2.0 * (double)m * d->n_out * d->n_in, SERIAL_FLOPS);
	int n = team_size(t);
	size_t mr = (size_t)gemm_kernel()->mr, mc = row_block();
	if (j.be != GEMM_BACKEND_OPENBLAS)
		j.be = laid_out(j.be, m, n, &mr, &mc);
	long n_panels = (d->n_out + GEMM_NR - 1) / GEMM_NR;
	j.by_rows = n == 1 || m >= 2 * (size_t)n * mr;
	if (j.by_rows) {
		row_units(m, n, mr, mc, &j.unit, &j.n_units);
	} else {
		j.unit = (n_panels + 4 * n - 1) / (4 * n);
		j.n_units = (n_panels + j.unit - 1) / j.unit;
	}
	atomic_init(&j.next, 0);
	team_run(t, dense_part, &j);
	if (!j.by_rows && j.ep.ln != NULL)
		team_run(t, norm_part, &j);
}

void dense_ffn_forward(struct team *t, const struct dense *in, enum activation act,
                       const struct dense *out, const struct layer_norm *ln, float *x, size_t ldx,
                       float *tmp, size_t ldt, size_t m)
{
	struct dense_epilogue ep_in = {act, NULL, 0, NULL}, ep_out = {ACT_NONE, x, ldx, ln};
	if (m == 0)
		return;
	t = team_for(t, 2.0 * (double)m * in->n_out * in->n_in, SERIAL_FLOPS);
	int n = team_size(t);
	size_t mr, mc;
	enum gemm_backend be = gemm_backend_for(m, (size_t)in->n_out, (size_t)in->n_in);
	enum gemm_backend kernel = laid_out(be, m, n, &mr, &mc);
	if (be == GEMM_BACKEND_OPENBLAS || in->packed == NULL || out->packed == NULL ||
	    (n > 1 && m < 2 * (size_t)n * mr)) {
		dense_forward(t, in, tmp, ldt, x, ldx, m, &ep_in);
		dense_forward(t, out, x, ldx, tmp, ldt, m, &ep_out);
		return;
	}
	struct dense_job second = {.d = out,
	                           .y = x,
	                           .ldy = ldx,
	                           .x = tmp,
	                           .ldx = ldt,
	                           .m = m,
	                           .ep = ep_out,
	                           .be = kernel,
	                           .by_rows = 1};
	row_units(m, n, mr, mc, &second.unit, &second.n_units);
	struct dense_job first = second;
	first.d = in;
	first.y = tmp;
	first.ldy = ldt;
	first.x = x;
	first.ldx = ldx;
	first.ep = ep_in;
	first.then = &second;
	atomic_init(&first.next, 0);
	atomic_init(&second.next, 0);
	team_run(t, dense_part, &first);
}

/* --- raw-pointer products ---------------------------------------------- */

void linear(float *y, const float *x, const float *w, const float *bias, size_t m, size_t n_in,
            size_t n_out)
{
	struct dense d = {w, bias, (int32_t)n_in, (int32_t)n_out, NULL};
	dense_forward(NULL, &d, y, n_out, x, n_in, m, NULL);
}

void gemm_nt(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k, int accumulate)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
	            1.0f, a, (blasint)lda, b, (blasint)ldb, accumulate ? 1.0f : 0.0f, c,
	            (blasint)ldc);
}

void gemm_nn(float *c, size_t ldc, const float *a, size_t lda, const float *b, size_t ldb, size_t m,
             size_t n, size_t k)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k,
	            1.0f, a, (blasint)lda, b, (blasint)ldb, 0.0f, c, (blasint)ldc);
}

void gemm_nt_openblas_mt(float *c, size_t ldc, const float *a, size_t lda, const float *b,
                         size_t ldb, size_t m, size_t n, size_t k, int n_threads)
{
	openblas_set_num_threads(n_threads > 0 ? n_threads : 1);
	gemm_nt(c, ldc, a, lda, b, ldb, m, n, k, 0);
	openblas_set_num_threads(1);
}
