/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the tokenizer files smolserve parses itself. Byte 0
 * picks the reader: a SentencePiece model (protobuf) as ALBERT or XLM-R,
 * vocab.json, vocab.json + merges.txt (split at the first NUL) into a
 * byte-level BPE, or a whole tokenizer.json. A tokenizer that builds must
 * then encode and decode a fixed text. Never a crash, a leak or a read out
 * of bounds.
 */
#include <string.h>

#include "fuzz_util.h"
#include "sentencepiece.h"
#include "tokenizer.h"
#include "tokenizer_json.h"
#include "tokenizer_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct tokenizer *t)
{
	static const char TEXT[] = "Hello, world! Ünïcödé ▁x <s> [MASK] 12345";
	struct encode_opts opts = {.add_special_tokens = 1};
	struct encoding en;
	char err[256], out[1024];
	encoding_init(&en);
	if (tokenizer_encode(t, TEXT, sizeof(TEXT) - 1, NULL, 0, &opts, &en, err, sizeof(err)) == 0)
		tokenizer_decode(t, en.ids, (size_t)en.n, 1, out, sizeof(out), err, sizeof(err));
	encoding_dispose(&en);
	tokenizer_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	char err[1024] = "";
	struct tokenizer *t = NULL;
	switch (data[0] % 5) {
	case 0:
	case 1: {
		struct sentencepiece_opts o = {.flavour =
		                                   data[0] % 4 ? SPM_XLM_ROBERTA : SPM_ALBERT,
		                               .do_lower_case = 1,
		                               .remove_space = 1};
		if (sentencepiece_create(p, n, &o, &t, err, sizeof(err)) == 0)
			exercise(t);
		break;
	}
	case 2: {
		struct vocab v;
		memset(&v, 0, sizeof(v));
		if (vocab_from_json((const char *)p, n, &v, err, sizeof(err)) == 0)
			FUZZ_CHECK(v.n_tokens >= 0, "negative vocabulary");
		vocab_dispose(&v);
		break;
	}
	case 4: {
		struct tokenizer_json_hints hints = {0};
		if (tokenizer_json_build((const char *)p, n, &hints, &t, err, sizeof(err)) == 0)
			exercise(t);
		break;
	}
	default: {
		const uint8_t *nul = memchr(p, 0, n);
		size_t n_vocab = nul ? (size_t)(nul - p) : n;
		const char *merges = nul ? (const char *)nul + 1 : "";
		size_t n_merges = nul ? n - n_vocab - 1 : 0;
		struct bpe_opts o;
		memset(&o, 0, sizeof(o));
		if (bpe_create_from_json((const char *)p, n_vocab, merges, n_merges, &o, &t, err,
		                         sizeof(err)) == 0)
			exercise(t);
		break;
	}
	}
	return 0;
}
