/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: one tokenizer family on arbitrary text, built three
 * times (meson.build): WordPiece (bert), byte-level BPE (roberta),
 * SentencePiece (albert, xlm-roberta), the folders named by
 * FUZZ_TOKENIZER_FOLDERS, each read both from its classic files and from its
 * tokenizer.json (the pipeline served by default). Input: byte 0 picks the
 * tokenizer and the options
 * (special tokens, truncation, side, a small max length), the rest is the
 * text, split at the first 0xFF byte into text and pair. An accepted input
 * must give tokens whose byte spans lie inside their text, ids inside the
 * vocabulary, and a decode whose two calls (size, then fill) agree. Then the
 * input bytes, read as ids, are decoded too.
 */
#include <string.h>

#include "fuzz_util.h"
#include "status.h"
#include "tokenizer.h"
#include "tokenizer_load.h"

static const char *const FOLDERS[] = {FUZZ_TOKENIZER_FOLDERS};
#define N_FOLDERS (sizeof(FOLDERS) / sizeof(FOLDERS[0]))
/* Each folder twice: from its classic files and from its tokenizer.json. */
#define N_TOK (2 * N_FOLDERS)
static struct tokenizer *toks[N_TOK];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (size_t i = 0; i < N_TOK; i++) {
		char err[1024];
		enum tokenizer_source src =
		    i < N_FOLDERS ? TOKENIZER_SOURCE_CLASSIC : TOKENIZER_SOURCE_JSON;
		FUZZ_CHECK(tokenizer_load_from(fuzz_fixture(FOLDERS[i % N_FOLDERS]), src, &toks[i],
		                               err, sizeof(err)) == 0,
		           "%s", err);
	}
	return 0;
}

/* Both decode calls must agree and stay in bounds. */
static void check_decode(const struct tokenizer *t, const int32_t *ids, size_t n, int skip)
{
	char err[256];
	int len = tokenizer_decode(t, ids, n, skip, NULL, 0, err, sizeof(err));
	if (len < 0)
		return; /* an id out of range: refused */
	char *text = malloc((size_t)len + 1);
	FUZZ_CHECK(text != NULL, "out of memory");
	int again = tokenizer_decode(t, ids, n, skip, text, (size_t)len + 1, err, sizeof(err));
	FUZZ_CHECK(again == len, "decode sized %d, then wrote %d", len, again);
	FUZZ_CHECK(memchr(text, '\0', (size_t)len + 1) != NULL, "decode left no NUL");
	free(text);
}

static void check_encoding(const struct tokenizer *t, const struct encoding *en, size_t n_text,
                           size_t n_pair)
{
	for (int32_t k = 0; k < en->n; k++) {
		FUZZ_CHECK(en->ids[k] >= 0 && en->ids[k] < t->vocab.n_tokens, "id %d of %d",
		           (int)en->ids[k], (int)t->vocab.n_tokens);
		if (en->special[k])
			continue;
		size_t limit = en->seq[k] == 1 ? n_pair : n_text;
		FUZZ_CHECK(en->starts[k] >= 0 && en->starts[k] <= en->stops[k] &&
		               (size_t)en->stops[k] <= limit,
		           "token %d spans [%d, %d) of %zu bytes", (int)k, (int)en->starts[k],
		           (int)en->stops[k], limit);
	}
	check_decode(t, en->ids, (size_t)en->n, 0);
	check_decode(t, en->ids, (size_t)en->n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct tokenizer *t = toks[data[0] % N_TOK];
	struct encode_opts opts = {.add_special_tokens = (data[0] >> 2) & 1,
	                           .truncate = (data[0] >> 3) & 1,
	                           .side = (data[0] >> 4) & 1 ? TRUNCATION_LEFT : TRUNCATION_RIGHT,
	                           .max_length = (data[0] >> 5) * 3};
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	const char *sep = memchr(text, 0xff, n);
	const char *pair = sep ? sep + 1 : NULL;
	size_t n_text = sep ? (size_t)(sep - text) : n;
	size_t n_pair = sep ? n - n_text - 1 : 0;
	struct encoding en;
	char err[512];
	encoding_init(&en);
	int rc = tokenizer_encode(t, text, n_text, pair, n_pair, &opts, &en, err, sizeof(err));
	if (rc == 0)
		check_encoding(t, &en, n_text, n_pair);
	else
		FUZZ_CHECK(rc == STATUS_EINVAL || rc == STATUS_ETOOLONG, "status %d: %s", rc, err);
	encoding_dispose(&en);

	/* the input as ids (any value, in range or not) */
	int32_t ids[256];
	size_t n_ids = n / 2 < 256 ? n / 2 : 256;
	for (size_t i = 0; i < n_ids; i++)
		ids[i] = (int32_t)(((unsigned)data[1 + 2 * i] << 8 | data[2 + 2 * i]) %
		                   (unsigned)(t->vocab.n_tokens + 8));
	check_decode(t, ids, n_ids, data[0] & 1);
	return 0;
}
