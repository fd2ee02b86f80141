/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compute side of the forward pass against double-precision naive
 * loops: dense_forward (both backends, every epilogue, teams of 1 to 3
 * threads, row- and column-split products, shapes that leave partial
 * panels and tiles), fused packing (q | k | v), the compute team, and
 * encoder_attention with and without a score bias and a band. Also the
 * OpenBLAS kernel choice on made-up CPUs.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder-impl.h"
#include "gemm.h"
#include "team.h"
#include "test_util.h"

static float frand(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_floats(size_t n, unsigned seed)
{
	float *x = aligned_alloc(64, ((n * sizeof(float)) + 63) & ~(size_t)63);
	for (size_t i = 0; i < n; i++)
		x[i] = frand(&seed);
	return x;
}

/* --- team ---------------------------------------------------------------- */

struct count_job {
	int hits[8];
};

static void count_part(void *arg, int i, int n)
{
	struct count_job *j = arg;
	ck_assert_int_lt(i, n);
	j->hits[i]++;
}

START_TEST(test_team_runs_every_part_once)
{
	for (int n = 1; n <= 4; n++) {
		struct team *t;
		ck_assert_int_eq(team_create(&t, n), 0);
		ck_assert_int_eq(team_size(t), n);
		struct count_job j = {{0}};
		for (int round = 0; round < 50; round++)
			team_run(t, count_part, &j);
		for (int i = 0; i < n; i++)
			ck_assert_int_eq(j.hits[i], 50);
		team_destroy(t);
	}
	struct count_job j = {{0}};
	team_run(NULL, count_part, &j);
	ck_assert_int_eq(j.hits[0], 1);
}
END_TEST

START_TEST(test_team_split_covers_range)
{
	for (long count = 0; count < 50; count++)
		for (int n = 1; n <= 5; n++) {
			long next = 0;
			for (int i = 0; i < n; i++) {
				long b, e;
				team_split(count, 7, i, n, &b, &e);
				ck_assert_int_eq(b, next);
				ck_assert(e >= b && (e == count || e % 7 == 0));
				next = e;
			}
			ck_assert_int_eq(next, count);
		}
}
END_TEST

/* --- dense_forward ---------------------------------------------------------- */

/* m, n, k. The last: three of amx's row blocks (128, 128, 44), a partial
 * third panel, and inputs in three slices of 768, 768 and 64. */
static const size_t SHAPES[][3] = {{1, 1, 1},     {3, 5, 7},       {17, 33, 65},
                                   {40, 64, 384}, {130, 100, 500}, {5, 300, 64},
                                   {97, 96, 33},  {2, 40, 800},    {300, 70, 1600}};
#define N_SHAPES (int)(sizeof(SHAPES) / sizeof(SHAPES[0]))

enum ep_kind { EP_NONE, EP_GELU, EP_RESIDUAL_LN, EP_OTHER_RESIDUAL_NONORM, EP_TANH, N_EP };

static double gelu(double v)
{
	return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
}

/* The reference: y = epilogue(x w^T + b) in double. */
static void reference(double *ref, const float *x, const float *w, const float *b, const float *res,
                      const struct layer_norm *ln, enum ep_kind ep, size_t m, size_t n, size_t k)
{
	for (size_t r = 0; r < m; r++) {
		double *row = ref + r * n;
		for (size_t c = 0; c < n; c++) {
			double s = b[c];
			for (size_t p = 0; p < k; p++)
				s += (double)x[r * k + p] * w[c * k + p];
			if (ep == EP_GELU)
				s = gelu(s);
			if (ep == EP_TANH)
				s = tanh(s);
			if (res != NULL)
				s += res[r * n + c];
			row[c] = s;
		}
		if (ln == NULL)
			continue;
		double mean = 0, var = 0;
		for (size_t c = 0; c < n; c++)
			mean += row[c];
		mean /= (double)n;
		for (size_t c = 0; c < n; c++)
			var += (row[c] - mean) * (row[c] - mean);
		var /= (double)n;
		for (size_t c = 0; c < n; c++)
			row[c] = ln->no_norm
			             ? row[c] * ln->gamma[c] + ln->beta[c]
			             : (row[c] - mean) / sqrt(var + ln->eps) * ln->gamma[c] +
			                   ln->beta[c];
	}
}

/* The inputs of one epilogue kind: *ep and the reference's residual and
 * norm; y is prepared when the residual is y itself. */
static void epilogue_of(enum ep_kind e, struct dense_epilogue *ep, struct layer_norm *ln,
                        const float *res, float *y, size_t m, size_t n, const float **ref_res)
{
	*ep = (struct dense_epilogue){ACT_NONE, NULL, 0, NULL};
	ln->no_norm = e == EP_OTHER_RESIDUAL_NONORM;
	*ref_res = NULL;
	if (e == EP_GELU)
		ep->act = ACT_GELU;
	if (e == EP_TANH)
		ep->act = ACT_TANH;
	if (e == EP_RESIDUAL_LN || e == EP_OTHER_RESIDUAL_NONORM) {
		ep->ln = ln;
		*ref_res = res;
		ep->residual = res;
		ep->ld_residual = n;
	}
	if (e == EP_RESIDUAL_LN) { /* in place: y holds the residual */
		memcpy(y, res, m * n * sizeof(float));
		ep->residual = y;
	}
}

/* One shape, every epilogue, teams of 1 to 3 threads, the backend set by
 * the tcase. */
static void check_dense(size_t m, size_t n, size_t k)
{
	float *x = rand_floats(m * k, 1), *w = rand_floats(n * k, 2), *b = rand_floats(n, 3);
	float *res = rand_floats(m * n, 4), *g = rand_floats(n, 5), *be = rand_floats(n, 6);
	float *y = malloc(m * n * sizeof(float));
	double *ref = malloc(N_EP * m * n * sizeof(double));
	struct dense d = {w, b, (int32_t)k, (int32_t)n, NULL};
	struct gemm_packed packed;
	const struct dense *parts[1] = {&d};
	float *mem = aligned_alloc(64, gemm_pack_bytes(parts, 1));
	float *pbias = malloc(n * sizeof(float));
	struct dense dp;
	struct dense_epilogue ep;
	struct layer_norm ln = {g, be, 1e-5f, 0};
	const float *ref_res;
	dense_pack(&dp, parts, 1, mem, &packed, pbias);
	for (int e = 0; e < N_EP; e++) {
		epilogue_of((enum ep_kind)e, &ep, &ln, res, y, m, n, &ref_res);
		reference(ref + (size_t)e * m * n, x, w, b, ref_res, ep.ln, (enum ep_kind)e, m, n,
		          k);
	}
	for (int threads = 1; threads <= 3; threads++) {
		struct team *t;
		ck_assert_int_eq(team_create(&t, threads), 0);
		for (int e = 0; e < N_EP; e++) {
			const double *r = ref + (size_t)e * m * n;
			epilogue_of((enum ep_kind)e, &ep, &ln, res, y, m, n, &ref_res);
			dense_forward(t, &dp, y, n, x, k, m, &ep);
			for (size_t i = 0; i < m * n; i++)
				ck_assert_msg(
				    fabs(y[i] - r[i]) <= 1e-4 * (1.0 + fabs(r[i])),
				    "m %zu n %zu k %zu threads %d epilogue %d: y[%zu] = %g, "
				    "not %g",
				    m, n, k, threads, e, i, (double)y[i], r[i]);
		}
		team_destroy(t);
	}
	free(x), free(w), free(b), free(res), free(g), free(be), free(y), free(ref), free(mem);
	free(pbias);
}

START_TEST(test_dense_forward_matches_naive)
{
	check_dense(SHAPES[_i][0], SHAPES[_i][1], SHAPES[_i][2]);
}
END_TEST

/* q | k | v packed as one product equals the three products. */
START_TEST(test_fused_pack_equals_parts)
{
	size_t m = 23, h = 40, k = 72;
	float *w[3], *bias[3], *x = rand_floats(m * k, 9);
	struct dense d[3];
	for (int i = 0; i < 3; i++) {
		w[i] = rand_floats(h * k, 10 + i);
		bias[i] = i == 1 ? NULL : rand_floats(h, 20 + i);
		d[i] = (struct dense){w[i], bias[i], (int32_t)k, (int32_t)h, NULL};
	}
	const struct dense *parts[3] = {&d[0], &d[1], &d[2]};
	float *mem = aligned_alloc(64, gemm_pack_bytes(parts, 3)), fused_b[3 * 40];
	struct gemm_packed packed;
	struct dense qkv;
	dense_pack(&qkv, parts, 3, mem, &packed, fused_b);
	ck_assert_int_eq(qkv.n_out, 3 * (int32_t)h);
	ck_assert_ptr_null(qkv.w);
	float *y = malloc(m * 3 * h * sizeof(float)), *one = malloc(m * h * sizeof(float));
	dense_forward(NULL, &qkv, y, 3 * h, x, k, m, NULL);
	for (int i = 0; i < 3; i++) { /* each part laid out alone: the same sums */
		const struct dense *part[1] = {&d[i]};
		float *mem1 = aligned_alloc(64, gemm_pack_bytes(part, 1)), bias1[40];
		struct gemm_packed packed1;
		struct dense d1;
		dense_pack(&d1, part, 1, mem1, &packed1, bias1);
		dense_forward(NULL, &d1, one, h, x, k, m, NULL);
		for (size_t r = 0; r < m; r++)
			for (size_t c = 0; c < h; c++)
				ck_assert_double_eq_tol(y[r * 3 * h + (size_t)i * h + c],
				                        one[r * h + c], 1e-5);
		free(mem1);
	}
	for (int i = 0; i < 3; i++)
		free(w[i]), free(bias[i]);
	free(x), free(mem), free(y), free(one);
}
END_TEST

/* --- attention ---------------------------------------------------------------- */

static void test_bias(void *arg, int32_t seq, int32_t head, int32_t q0, int32_t n_q, int32_t k0,
                      int32_t n_k, float *scores, size_t ld)
{
	(void)arg;
	for (int32_t r = 0; r < n_q; r++)
		for (int32_t c = 0; c < n_k; c++)
			scores[(size_t)r * ld + (size_t)c] +=
			    0.05f * (float)((q0 + r) - (k0 + c)) * (float)(head + 1) +
			    0.1f * (float)seq;
}

static double ref_bias(int32_t seq, int32_t head, int32_t qi, int32_t kj)
{
	return 0.05 * (double)(qi - kj) * (head + 1) + 0.1 * seq;
}

static void check_attention(int32_t head_dim, int threads, const struct attention_opts *o)
{
	/* 390 keys: longer than the kernel's inner slice (KC_TILE 384), so the
	 * values product ends in two slices and its 1 / sum scale must apply
	 * to both; and several blocks of 128 queries for plain attention, which
	 * stores their scores transposed up to 512 keys and runs 530 keys the
	 * way biased and banded attention runs every length. */
	int plain = o->bias == NULL && o->window <= 0;
	const int32_t lens[] = {1, 5, 33, 70, 64, 390, 530}, n_seqs = plain ? 7 : 6, n_heads = 3;
	int32_t starts[8] = {0};
	for (int i = 0; i < n_seqs; i++)
		starts[i + 1] = starts[i] + lens[i];
	int32_t n = starts[n_seqs], width = n_heads * head_dim, max_len = lens[n_seqs - 1];
	size_t ld = (size_t)(3 * width + 5), ldc = (size_t)(width + 3);
	float *qkv = rand_floats((size_t)n * ld, 7), *ctx = calloc((size_t)n * ldc, sizeof(float));
	struct packed_batch b = {n_seqs, n, NULL, NULL, starts};
	struct encoder_scratch s;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(team_create(&s.team, threads), 0);
	s.max_seq_len = max_len;
	s.attn_floats = encoder_attention_floats(max_len, head_dim);
	s.attn = aligned_alloc(64, (size_t)threads * s.attn_floats * sizeof(float));
	encoder_attention(&s, ctx, ldc, qkv, qkv + width, ld, qkv + 2 * width, ld, n_heads,
	                  head_dim, &b, o);
	double scale = o->scale != 0.0f ? o->scale : 1.0 / sqrt((double)head_dim);
	double *p = malloc((size_t)max_len * sizeof(double));
	for (int32_t q = 0; q < n_seqs; q++)
		for (int32_t h = 0; h < n_heads; h++)
			for (int32_t i = 0; i < lens[q]; i++) {
				const float *qi = qkv + (size_t)(starts[q] + i) * ld + h * head_dim;
				double mx = -INFINITY, sum = 0;
				for (int32_t j = 0; j < lens[q]; j++) {
					const float *kj = qkv + (size_t)(starts[q] + j) * ld +
					                  width + h * head_dim;
					double sc = 0;
					for (int32_t c = 0; c < head_dim; c++)
						sc += (double)qi[c] * kj[c];
					sc *= scale;
					if (o->bias != NULL)
						sc += ref_bias(q, h, i, j);
					if (o->window > 0 && abs(i - j) > o->window)
						sc = -INFINITY;
					p[j] = sc;
					mx = sc > mx ? sc : mx;
				}
				for (int32_t j = 0; j < lens[q]; j++)
					sum += (p[j] = exp(p[j] - mx));
				for (int32_t c = 0; c < head_dim; c++) {
					double v = 0;
					for (int32_t j = 0; j < lens[q]; j++)
						v += p[j] / sum *
						     qkv[(size_t)(starts[q] + j) * ld + 2 * width +
						         h * head_dim + c];
					float got =
					    ctx[(size_t)(starts[q] + i) * ldc + h * head_dim + c];
					ck_assert_msg(
					    fabs(got - v) < 1e-5,
					    "d %d threads %d seq %d head %d row %d col %d: %g "
					    "not %g",
					    head_dim, threads, q, h, i, c, (double)got, v);
				}
			}
	team_destroy(s.team);
	free(s.attn), free(qkv), free(ctx), free(p);
}

START_TEST(test_attention_matches_naive)
{
	const int32_t dims[] = {32, 48, 64, 8};
	struct attention_opts plain = {0}, biased = {0.3f, 0, test_bias, NULL},
	                      banded = {0, 9, NULL, NULL}, both = {0, 3, test_bias, NULL};
	for (int threads = 1; threads <= 2; threads++) {
		check_attention(dims[_i], threads, &plain);
		check_attention(dims[_i], threads, &biased);
		check_attention(dims[_i], threads, &banded);
		check_attention(dims[_i], threads, &both);
	}
}
END_TEST

/* --- the OpenBLAS kernel choice ---------------------------------------------- */

START_TEST(test_core_choice)
{
	char why[256];
	struct cpu_isa skx = {CPU_VENDOR_INTEL, 1, 1, 0, 6, 207, 0};
	struct cpu_isa bf16 = {CPU_VENDOR_INTEL, 1, 1, 1, 6, 207, 0};
	struct cpu_isa hsw = {CPU_VENDOR_INTEL, 1, 0, 0, 6, 151, 0};
	struct cpu_isa zen = {CPU_VENDOR_AMD, 1, 0, 0, 25, 33, 0};
	struct cpu_isa zen4 = {CPU_VENDOR_AMD, 1, 1, 1, 25, 97, 0};
	struct cpu_isa old = {CPU_VENDOR_INTEL, 0, 0, 0, 6, 42, 0};
	ck_assert_str_eq(gemm_core_choose(&skx, "Prescott", why, sizeof(why)), "SkylakeX");
	ck_assert_ptr_nonnull(strstr(why, "Prescott"));
	ck_assert_str_eq(gemm_core_choose(&bf16, "Prescott", why, sizeof(why)), "SkylakeX");
	ck_assert_str_eq(gemm_core_choose(&skx, "Haswell", why, sizeof(why)), "SkylakeX");
	ck_assert_ptr_null(gemm_core_choose(&skx, "SkylakeX", why, sizeof(why)));
	ck_assert_ptr_null(gemm_core_choose(&bf16, "Cooperlake", why, sizeof(why)));
	ck_assert_ptr_null(gemm_core_choose(&bf16, "SkylakeX", why, sizeof(why)));
	ck_assert_str_eq(gemm_core_choose(&hsw, "Sandybridge", why, sizeof(why)), "Haswell");
	ck_assert_ptr_null(gemm_core_choose(&hsw, "Haswell", why, sizeof(why)));
	ck_assert_str_eq(gemm_core_choose(&zen, "Prescott", why, sizeof(why)), "Zen");
	ck_assert_ptr_null(gemm_core_choose(&zen, "Zen", why, sizeof(why)));
	ck_assert_str_eq(gemm_core_choose(&zen4, "Zen", why, sizeof(why)), "SkylakeX");
	ck_assert_ptr_null(gemm_core_choose(&old, "Nehalem", why, sizeof(why)));
	ck_assert_ptr_null(gemm_core_choose(&old, "Prescott", why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "neither"));
}
END_TEST

/* This machine: whatever it is, the choice is consistent with CPUID. */
START_TEST(test_core_choice_here)
{
	char why[256];
	struct cpu_isa here;
	cpu_isa_detect(&here);
	const char *want = gemm_core_choose(&here, "Prescott", why, sizeof(why));
	if (here.avx512)
		ck_assert_str_eq(want, "SkylakeX");
	else if (here.avx2_fma)
		ck_assert_ptr_nonnull(want);
	else
		ck_assert_ptr_null(want);
}
END_TEST

static void use_openblas(void)
{
	ck_assert_int_eq(gemm_backend_set(GEMM_BACKEND_OPENBLAS, NULL, 0), 0);
}

/* smolserve's own fp32 kernel, also where auto would pick amx. */
static void use_packed(void)
{
	ck_assert_int_eq(gemm_backend_set(GEMM_BACKEND_PACKED, NULL, 0), 0);
}

static void use_amx(void)
{
	ck_assert_int_eq(gemm_backend_set(GEMM_BACKEND_AMX, NULL, 0), 0);
}

/* amx keeps fp32's accuracy: each error at most 1e-6 of the sum of the
 * terms' magnitudes (the fp32 kernels' here: 2-3e-7; bf16 split in two
 * parts, three terms, fails it), on a product with a short row unit, a
 * partial panel and inputs in five slices (one partial). */
START_TEST(test_amx_accuracy)
{
	size_t m = 600, n = 70, k = 1600;
	float *x = rand_floats(m * k, 31), *w = rand_floats(n * k, 32);
	struct dense d = {w, NULL, (int32_t)k, (int32_t)n, NULL}, dp;
	const struct dense *parts[1] = {&d};
	struct gemm_packed packed;
	float *mem = aligned_alloc(64, gemm_pack_bytes(parts, 1)),
	      *y = malloc(m * n * sizeof(float));
	struct team *t;
	ck_assert_int_eq(team_create(&t, 2), 0);
	dense_pack(&dp, parts, 1, mem, &packed, NULL);
	dense_forward(t, &dp, y, n, x, k, m, NULL);
	for (size_t r = 0; r < m; r++)
		for (size_t c = 0; c < n; c++) {
			double sum = 0, mag = 0;
			for (size_t q = 0; q < k; q++) {
				double v = (double)x[r * k + q] * w[c * k + q];
				sum += v;
				mag += fabs(v);
			}
			ck_assert_msg(fabs(y[r * n + c] - sum) <= 1e-6 * mag,
			              "y[%zu][%zu] = %.9g, not %.9g (terms' magnitude %g)", r, c,
			              (double)y[r * n + c], sum, mag);
		}
	team_destroy(t);
	free(x), free(w), free(mem), free(y);
}
END_TEST

/* amx is refused, with a reason, where it cannot run; auto picks it where
 * it can. */
START_TEST(test_amx_choice)
{
	char err[256] = "";
	int rc = gemm_backend_set(GEMM_BACKEND_AMX, err, sizeof(err));
	if (gemm_amx_available()) {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(gemm_backend_set(GEMM_BACKEND_AUTO, NULL, 0), 0);
		ck_assert_int_eq(gemm_backend_for(1, 1, 1), GEMM_BACKEND_AMX);
		ck_assert_ptr_nonnull(strstr(gemm_backend_describe(), "amx"));
	} else {
		ck_assert_int_ne(rc, 0);
		ck_assert_ptr_nonnull(strstr(err, "AMX"));
		ck_assert_int_ne(gemm_backend_for(1, 1, 1), GEMM_BACKEND_AMX);
	}
	ck_assert_int_eq(gemm_backend_parse("amx"), GEMM_BACKEND_AMX);
}
END_TEST

/* The narrower kernels, on whatever machine runs the tests (the CPU's own
 * features still apply: on a CPU without AVX2 both run the baseline). */
static void use_avx2(void)
{
	setenv("SMOLSERVE_ISA", "avx2", 1);
}

static void use_generic(void)
{
	setenv("SMOLSERVE_ISA", "generic", 1);
}

/* A case running every shape on the backend `use` sets; more tests may join it. */
static TCase *backend_case(Suite *s, const char *name, void (*use)(void))
{
	TCase *t = tcase_create(name);
	tcase_set_timeout(t, 120);
	tcase_add_checked_fixture(t, use, NULL);
	tcase_add_loop_test(t, test_dense_forward_matches_naive, 0, N_SHAPES);
	suite_add_tcase(s, t);
	return t;
}

int main(void)
{
	setenv("SMOLSERVE_TEAM_ALWAYS", "1", 1); /* small shapes run on the team too */
	Suite *s = suite_create("dense");
	TCase *tc = tcase_create("auto"); /* packed, or amx where the CPU has it */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_team_runs_every_part_once);
	tcase_add_test(tc, test_team_split_covers_range);
	tcase_add_loop_test(tc, test_dense_forward_matches_naive, 0, N_SHAPES);
	tcase_add_test(tc, test_fused_pack_equals_parts);
	tcase_add_loop_test(tc, test_attention_matches_naive, 0, 4);
	tcase_add_test(tc, test_core_choice);
	tcase_add_test(tc, test_core_choice_here);
	tcase_add_test(tc, test_amx_choice);
	suite_add_tcase(s, tc);
	if (gemm_amx_available()) { /* "auto" above already ran amx: the fp32 kernel here */
		tcase_add_test(backend_case(s, "packed-fp32", use_packed),
		               test_fused_pack_equals_parts);
		tcase_add_test(backend_case(s, "amx", use_amx), test_amx_accuracy);
	}
	backend_case(s, "openblas", use_openblas);
	void (*isa[2])(void) = {use_avx2, use_generic};
	const char *isa_names[2] = {"avx2", "generic"};
	for (int i = 0; i < 2; i++) {
		TCase *t = tcase_create(isa_names[i]);
		tcase_set_timeout(t, 120);
		tcase_add_checked_fixture(t, isa[i], NULL);
		tcase_add_loop_test(t, test_dense_forward_matches_naive, 0, 5);
		tcase_add_test(t, test_fused_pack_equals_parts);
		tcase_add_loop_test(t, test_attention_matches_naive, 0, 4);
		suite_add_tcase(s, t);
	}
	return test_run_suite(s);
}
