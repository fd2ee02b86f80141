/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the request codec on every route. Input: byte 0 picks
 * the route, byte 1 the model (embedding, sequence classifier, token
 * classifier, cross-encoder) and the auto-truncate flag, the rest is the
 * request body. A body the codec accepts gets deterministic finite results
 * of many magnitudes, must pass the finite check, and its answer written
 * straight from the floats (codec_respond_text) must equal jansson's dump of
 * codec_respond byte for byte and parse back as JSON. A body it rejects must
 * come with a message. ASan and UBSan catch the rest.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "codec.h"
#include "fuzz_util.h"
#include "strbuf.h"

static const char *const FOLDERS[] = {"bert", "bert-seqcls", "bert-tokcls", "bert-rerank"};
#define N_MODELS (sizeof(FOLDERS) / sizeof(FOLDERS[0]))
static struct model *models[N_MODELS];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < N_MODELS; i++) {
		char err[1024];
		FUZZ_CHECK(
		    model_load(fuzz_fixture(FOLDERS[i]), NULL, &models[i], err, sizeof(err)) == 0,
		    "%s", err);
	}
	return 0;
}

/* Results with exponents from 1e-12 to 1e12 and both signs. */
static void fill_results(struct request *r)
{
	for (size_t i = 0; i < r->n_out; i++) {
		uint32_t h = (uint32_t)i * 2654435761u;
		float mant = (float)(h % 20001u) / 10000.0f - 1.0f;
		r->out[i] = ldexpf(mant, (int)(h >> 27) * 3 - 40);
	}
}

static void check_answer(const struct model *m, struct request *r)
{
	struct api_error e = {0};
	fill_results(r);
	FUZZ_CHECK(codec_check_finite(r, &e) == 0, "finite results refused: %s", e.message);
	struct strbuf b;
	strbuf_init(&b);
	int rc = codec_respond_text(m, r, &b);
	json_t *v = codec_respond(m, r);
	char *ref = v ? json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	FUZZ_CHECK((rc == 0) == (ref != NULL), "respond_text %d, codec_respond %p", rc,
	           (void *)ref);
	if (ref != NULL) {
		FUZZ_CHECK(strcmp(b.data, ref) == 0,
		           "route %d: text and jansson differ:\n%.300s\n%.300s", (int)r->route,
		           b.data, ref);
		json_t *back = json_loads(b.data, JSON_ALLOW_NUL, NULL);
		FUZZ_CHECK(back != NULL, "answer is not JSON: %.300s", b.data);
		json_decref(back);
	}
	free(ref);
	json_decref(v);
	strbuf_dispose(&b);
	if (r->n_out > 0) { /* one NaN anywhere must be refused */
		r->out[r->n_out / 2] = NAN;
		FUZZ_CHECK(codec_check_finite(r, &e) != 0 && e.kind == API_ERR_BACKEND,
		           "a NaN result passed the finite check");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	enum route route = (enum route)(data[0] % ROUTE_COUNT_);
	const struct model *m = models[data[1] % N_MODELS];
	struct request_limits lim = {.auto_truncate = (data[1] >> 2) & 1,
	                             .max_client_batch_size = 32,
	                             .max_tokenize_tokens = 4096,
	                             .max_response_floats = 1 << 18};
	json_error_t jerr;
	json_t *body = json_loadb((const char *)data + 2, size - 2,
	                          JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL)
		return 0;
	struct request r;
	struct api_error e = {0};
	request_init(&r);
	if (codec_parse(m, route, body, &lim, &r, &e) == 0) {
		check_answer(m, &r);
	} else {
		FUZZ_CHECK(e.message[0] != '\0', "rejected without a message");
		json_t *ev = codec_error(&e);
		FUZZ_CHECK(ev != NULL, "no error body for \"%s\"", e.message);
		json_decref(ev);
	}
	request_dispose(&r);
	json_decref(body);
	return 0;
}
