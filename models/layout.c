/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load-time layout of a model's weights for the packed GEMM backend
 * (gemm.h's dense_pack: q, k, v fused into one product per layer,
 * MobileBERT's q and k likewise), into one arena shared by every worker,
 * laid out on a team; or mapped from the layout cache (layout_cache.h)
 * when an earlier start left one for the same weights, which spares the
 * fresh memory and the packing (most of a small model's start-up).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "layout_cache.h"
#include "model-impl.h"
#include "status.h"
#include "team.h"

/* One dense layer to lay out: the concatenation of parts into *out. */
struct pack_job {
	struct dense *out;
	const struct dense *parts[3];
	int n_parts;
	int same_as;                /* an earlier job with the same weights (ALBERT's shared
	                             * layers, a head that is the pooler), or -1 */
	size_t mem_off, bias_off;   /* where it goes in the layout */
	float *mem, *bias;          /* the same in memory */
	struct gemm_packed *packed; /* its descriptor */
};

struct layout_plan {
	struct pack_job *jobs;
	int n, cap;
	atomic_int next;       /* the next job a team thread takes */
	size_t n_bytes;        /* of the whole layout */
	int keyed;             /* 1: every part is a tensor of the checkpoint */
	uint64_t group, key;   /* the cache file's name (layout_cache.h) */
	const char *cache_dir; /* NULL: no cache */
	double t0;
};

static void plan_add(struct layout_plan *p, struct dense *out, const struct dense *a,
                     const struct dense *b, const struct dense *c)
{
	if (p->n == p->cap || a->w == NULL)
		return; /* cap is counted up front; a missing weight is not packed */
	struct pack_job *j = &p->jobs[p->n];
	*j = (struct pack_job){out,  {a, b, c}, c != NULL ? 3 : b != NULL ? 2 : 1, -1, 0, 0, NULL,
	                       NULL, NULL};
	for (int i = 0; i < p->n; i++)
		if (p->jobs[i].parts[0]->w == a->w && p->jobs[i].n_parts == j->n_parts)
			j->same_as = i;
	p->n++;
}

/* Every dense layer the forward pass and the heads run. */
static void plan_model(struct model *m, struct layout_plan *p)
{
	struct encoder *e = &m->enc;
	if (e->emb_proj.w != NULL)
		plan_add(p, &e->emb_proj, &e->emb_proj, NULL, NULL);
	for (int32_t l = 0; e->mobile == NULL && l < e->n_layers; l++) {
		struct encoder_layer *L = &m->layers[l];
		plan_add(p, &L->qkv, &L->q, &L->k, &L->v);
		plan_add(p, &L->o, &L->o, NULL, NULL);
		plan_add(p, &L->ffn_in, &L->ffn_in, NULL, NULL);
		plan_add(p, &L->ffn_out, &L->ffn_out, NULL, NULL);
	}
	for (int32_t l = 0; e->mobile != NULL && l < e->n_layers; l++) {
		struct mobilebert_layer *L = &m->mobile_layers[l];
		struct dense *single[] = {&L->bn_input, &L->bn_attention, &L->v,     &L->o,
		                          &L->inter,    &L->out,          &L->out_bn};
		plan_add(p, &L->qk, &L->q, &L->k, NULL);
		for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
			plan_add(p, single[i], single[i], NULL, NULL);
		for (int i = 0; i < L->n_ffn; i++) {
			plan_add(p, &L->ffn_in[i], &L->ffn_in[i], NULL, NULL);
			plan_add(p, &L->ffn_out[i], &L->ffn_out[i], NULL, NULL);
		}
	}
	for (int32_t l = 0; e->modern != NULL && l < e->n_layers; l++) {
		struct modernbert_layer *L = &m->modern_layers[l];
		struct dense *all[] = {&L->wqkv, &L->wo, &L->wi, &L->wo_mlp};
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			plan_add(p, all[i], all[i], NULL, NULL);
	}
	if (m->has_pooler)
		plan_add(p, &m->pooler.d, &m->pooler.d, NULL, NULL);
	for (int i = 0; i < m->n_head_layers; i++)
		plan_add(p, &m->head_layers[i].d, &m->head_layers[i].d, NULL, NULL);
}

/* Drops the pages wholly inside [p, p + n) from this process's memory:
 * for mapped weights that have been laid out anew (the page cache keeps
 * them; a later read faults them back in). */
static void release_pages(const void *p, size_t n)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)p + n) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One job: lays its parts out, then lets go of the mapped originals. */
static void pack_one(struct pack_job *j)
{
	struct dense keep[3];
	const struct dense *parts[3];
	for (int k = 0; k < j->n_parts; k++) { /* out may be parts[0] itself */
		keep[k] = *j->parts[k];
		parts[k] = &keep[k];
	}
	dense_pack(j->out, parts, j->n_parts, j->mem, j->packed, j->bias);
	for (int k = 0; k < j->n_parts; k++)
		release_pages(keep[k].w,
		              (size_t)keep[k].n_out * (size_t)keep[k].n_in * sizeof(float));
}

/* A team thread's share: jobs taken one at a time from the plan. */
static void pack_part(void *arg, int i, int n)
{
	struct layout_plan *p = arg;
	(void)i, (void)n;
	for (;;) {
		int k = atomic_fetch_add(&p->next, 1);
		if (k >= p->n)
			return;
		if (p->jobs[k].same_as < 0)
			pack_one(&p->jobs[k]);
	}
}

/* Folds how this build lays weights out into *h: a small made-up layer
 * (two panels, the second partial, a bias) laid out by dense_pack, so that
 * a file written by a build that lays out differently is never used. */
static uint64_t hash_layout_probe(uint64_t h)
{
	enum { N_OUT = 40, N_IN = 20 };
	float w[N_OUT * N_IN], b[N_OUT], bias[N_OUT];
	float mem[2 * N_IN * GEMM_NR + 16] __attribute__((aligned(64)));
	for (int i = 0; i < N_OUT * N_IN; i++)
		w[i] = (float)i;
	for (int i = 0; i < N_OUT; i++)
		b[i] = (float)-i;
	struct dense d = {w, b, N_IN, N_OUT, NULL}, out;
	const struct dense *parts[1] = {&d};
	struct gemm_packed packed;
	memset(mem, 0, sizeof(mem));
	dense_pack(&out, parts, 1, mem, &packed, bias);
	h = layout_hash(h, mem, gemm_pack_bytes(parts, 1));
	return layout_hash(h, bias, sizeof(bias));
}

/* Offsets of every job in the layout, and the cache file's name: the
 * layout depends on the format, the kernel, the shapes and the bytes of
 * the tensors laid out (named by file identity and offset). */
static void plan_offsets(const struct model *m, struct layout_plan *p)
{
	const char *kernel = gemm_kernel_name();
	uint64_t key = layout_hash(LAYOUT_HASH_INIT, kernel, strlen(kernel) + 1);
	int32_t nr = GEMM_NR;
	key = layout_hash(key, &nr, sizeof(nr));
	key = hash_layout_probe(key);
	p->keyed = 1;
	for (int i = 0; i < p->n; i++) {
		struct pack_job *j = &p->jobs[i];
		if (j->same_as >= 0)
			continue;
		size_t n_out = 0;
		for (int k = 0; k < j->n_parts; k++) {
			const struct dense *d = j->parts[k];
			int32_t shape[3] = {d->n_in, d->n_out, d->b != NULL};
			n_out += (size_t)d->n_out;
			key = layout_hash(key, shape, sizeof(shape));
			if (layout_hash_tensor(&key, m->st, d->w) != 0 ||
			    (d->b != NULL && layout_hash_tensor(&key, m->st, d->b) != 0))
				p->keyed = 0; /* computed at load: not in the file */
		}
		key = layout_hash(key, &j->n_parts, sizeof(j->n_parts));
		j->mem_off = p->n_bytes;
		p->n_bytes += arena_size_of(gemm_pack_bytes(j->parts, j->n_parts));
		j->bias_off = p->n_bytes;
		p->n_bytes += arena_size_of(n_out * sizeof(float));
	}
	for (int c = 0; c < m->n_checks; c++) /* the tensors a hit spares the NaN/Inf check */
		if (layout_hash_tensor(&key, m->st, m->checks[c].x) != 0)
			p->keyed = 0;
	key = layout_hash_files(key, m->st); /* any file touched since: lay out anew */
	p->key = layout_hash(key, &p->n_bytes, sizeof(p->n_bytes));
	char *real = realpath(m->st->path, NULL);
	const char *name = real != NULL ? real : m->st->path;
	p->group = layout_hash(LAYOUT_HASH_INIT, name, strlen(name));
	free(real);
}

/* Points every job at its place in base and, for a layout read from the
 * cache, fills the descriptors. */
static void place_jobs(struct model *m, struct layout_plan *p, char *base, int adopt)
{
	for (int i = 0; i < p->n; i++) {
		struct pack_job *j = &p->jobs[i];
		if (j->same_as >= 0)
			continue;
		j->mem = (float *)(base + j->mem_off);
		j->bias = (float *)(base + j->bias_off);
		j->packed = &m->packs[i];
		m->packed_bytes += gemm_pack_bytes(j->parts, j->n_parts);
		if (adopt)
			dense_adopt(j->out, j->parts, j->n_parts, j->mem, j->packed, j->bias);
	}
}

static void copy_shared(struct layout_plan *p)
{
	for (int i = 0; i < p->n; i++) /* copies of what was laid out */
		if (p->jobs[i].same_as >= 0)
			*p->jobs[i].out = *p->jobs[p->jobs[i].same_as].out;
}

void layout_plan_free(struct layout_plan *p)
{
	if (p == NULL)
		return;
	free(p->jobs);
	free(p);
}

int layout_begin(struct model *m, struct team *team, const char *cache_dir,
                 struct layout_plan **out, char *err, size_t n_err)
{
	struct layout_plan *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (p == NULL)
		goto oom;
	p->t0 = seconds_now();
	p->cap = 2 + 2 * MODEL_MAX_HEAD_LAYERS + m->enc.n_layers * (4 + 8 + 2 * MOBILEBERT_MAX_FFN);
	if ((p->jobs = calloc((size_t)p->cap, sizeof(*p->jobs))) == NULL)
		goto oom;
	plan_model(m, p);
	if ((m->packs = calloc((size_t)(p->n > 0 ? p->n : 1), sizeof(*m->packs))) == NULL)
		goto oom;
	m->n_packs = p->n;
	plan_offsets(m, p);
	m->layout_cache = LAYOUT_CACHE_OFF;
	if (cache_dir == NULL || cache_dir[0] == '\0') {
		snprintf(m->layout_cache_note, sizeof(m->layout_cache_note), "off");
	} else if (!p->keyed) {
		snprintf(m->layout_cache_note, sizeof(m->layout_cache_note),
		         "not used: some weights are computed at load");
	} else {
		char why[512];
		p->cache_dir = cache_dir;
		if (layout_cache_open(cache_dir, p->group, p->key, p->n_bytes, team, &m->layout_map,
		                      why, sizeof(why)) == 0) {
			m->layout_cache = LAYOUT_CACHE_READ;
			snprintf(m->layout_cache_note, sizeof(m->layout_cache_note),
			         "read from %s/", cache_dir);
			place_jobs(m, p, (char *)(uintptr_t)m->layout_map.data, 1);
			copy_shared(p);
			m->pack_seconds = seconds_now() - p->t0;
		} else {
			snprintf(m->layout_cache_note, sizeof(m->layout_cache_note), "%.500s", why);
		}
	}
	*out = p;
	return 0;
oom:
	layout_plan_free(p);
	return status_fail(err, n_err, STATUS_ENOMEM, "%s: out of memory laying out the weights",
	                   m->dir);
}

int layout_finish(struct model *m, struct layout_plan *p, struct team *team, char *err,
                  size_t n_err)
{
	if (m->layout_cache == LAYOUT_CACHE_READ)
		return 0;
	if (arena_init_lazy(&m->pack_arena, p->n_bytes) != 0)
		return status_fail(err, n_err, STATUS_ENOMEM,
		                   "%s: out of memory laying out the weights", m->dir);
	place_jobs(m, p, (char *)m->pack_arena.base, 0);
	team_run(team, pack_part, p);
	copy_shared(p);
	m->pack_seconds = seconds_now() - p->t0;
	if (p->cache_dir != NULL) {
		char why[512], path[4096];
		int rc = layout_cache_write(p->cache_dir, p->group, p->key, m->pack_arena.base,
		                            p->n_bytes, team, path, sizeof(path), why, sizeof(why));
		if (rc == 0) {
			m->layout_cache = LAYOUT_CACHE_WRITTEN;
			snprintf(m->layout_cache_note, sizeof(m->layout_cache_note),
			         "written to %.400s for the next start", path);
		} else if (rc == -2) { /* a read-only container, say: not a fault */
			m->layout_cache = LAYOUT_CACHE_OFF;
			snprintf(m->layout_cache_note, sizeof(m->layout_cache_note), "off (%.490s)",
			         why);
		} else {
			m->layout_cache = LAYOUT_CACHE_FAILED;
			snprintf(m->layout_cache_note, sizeof(m->layout_cache_note), "%.500s", why);
		}
	}
	return 0;
}
