/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `run` subcommand (see run.h): load (a folder, or a Hub id downloaded
 * into the cache first), parse, run on one engine context sized for this
 * request, print, exit.
 */
#include "run.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "cpus.h"
#include "engine.h"
#include "gemm.h"
#include "model.h"
#include "model_source.h"
#include "status.h"

/* Reads all of in, at most limit bytes; NULL with *too_big set if more. */
static char *read_all(FILE *in, size_t limit, size_t *n, int *too_big)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	*too_big = 0;
	while (buf != NULL) {
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, in);
		len += got;
		if (len > limit) {
			*too_big = 1;
			break;
		}
		if (got == 0) {
			*n = len;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

static int print_json(FILE *out, json_t *v)
{
	int rc = json_dumpf(v, out, JSON_COMPACT | JSON_REAL_PRECISION(9)) == 0 ? 0 : -1;
	fputc('\n', out);
	return rc;
}

static int reject(FILE *out, enum route route, const struct api_error *e)
{
	json_t *v = codec_error_for(route, e);
	print_json(out, v);
	json_decref(v);
	return 1;
}

int run_command(const char *name, const struct settings *s, FILE *in, FILE *out)
{
	char err[1024] = "";
	struct api_error e = {0};
	struct model *m = NULL;
	struct request r;
	struct engine_ctx ctx;
	json_t *body = NULL;
	int status = 2, route = route_from_name(name);

	request_init(&r);
	memset(&ctx, 0, sizeof(ctx));
	if (route < 0) {
		fprintf(stderr,
		        "smolserve run: unknown route \"%s\" (embed, embed_all, predict, "
		        "tokenize, rerank, similarity, decode, v1/embeddings, predict_tokens, "
		        "embed_sparse)\n",
		        name);
		return 2;
	}
	struct thread_layout layout = {0};
	cpus_usable(&layout);
	gemm_set_threads(s->blas_threads > 0 ? (int)s->blas_threads : layout.cpus);
	struct model_source src;
	if (model_source_load(s, NULL, &m, &src, err, sizeof(err)) != 0) {
		fprintf(stderr, "smolserve: %s\n", err);
		return 2;
	}

	size_t n = 0;
	int too_big;
	char *text = read_all(in, (size_t)s->payload_limit, &n, &too_big);
	json_error_t jerr;
	if (text == NULL) {
		e.kind = too_big ? API_ERR_PAYLOAD : API_ERR_BACKEND;
		snprintf(e.message, sizeof(e.message), "%s",
		         too_big ? "payload too large" : "cannot read the request body");
		status = reject(out, (enum route)route, &e);
		goto done;
	}
	body = json_loadb(text, n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (body == NULL) {
		e.kind = API_ERR_VALIDATION;
		snprintf(e.message, sizeof(e.message), "invalid JSON at line %d column %d: %s",
		         jerr.line, jerr.column, jerr.text);
		status = reject(out, (enum route)route, &e);
		goto done;
	}
	struct request_limits lim;
	if (codec_limits_init(&lim, m, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "smolserve: %s\n", err);
		goto done;
	}
	if (codec_parse(m, (enum route)route, body, &lim, &r, &e) != 0) {
		status = reject(out, (enum route)route, &e);
		goto done;
	}
	int32_t tokens = r.n_tokens > 0 ? r.n_tokens : 1;
	if (engine_ctx_init(&ctx, m, tokens) != 0) {
		fprintf(stderr, "smolserve: out of memory for a batch of %d tokens\n", (int)tokens);
		goto done;
	}
	struct request *reqs[1] = {&r};
	if (engine_run(m, &ctx, reqs, 1, err, sizeof(err)) != 0) {
		e.kind = API_ERR_BACKEND;
		snprintf(e.message, sizeof(e.message), "%s", err);
		status = reject(out, (enum route)route, &e);
		goto done;
	}
	if (codec_check_finite(&r, &e) != 0) {
		status = reject(out, (enum route)route, &e);
		goto done;
	}
	json_t *resp = codec_respond(m, &r);
	if (resp == NULL || print_json(out, resp) != 0) {
		fprintf(stderr, "smolserve: cannot write the response\n");
		json_decref(resp);
		goto done;
	}
	json_decref(resp);
	status = 0;
done:
	engine_ctx_dispose(&ctx);
	request_dispose(&r);
	json_decref(body);
	model_destroy(m);
	return status;
}
