/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tokenizers loaded from the classic files of every fixture folder with an
 * expected.json (WordPiece, byte-level BPE, SentencePiece; the same folders'
 * tokenizer.json is test_tokenizer_json.c's) against Hugging Face's own
 * output (transformers v4.31 slow tokenizers): token ids and token type ids
 * exactly, truncation flags and untruncated lengths, and byte offsets
 * (bounds and order for every token; WordPiece: the text under each offset
 * re-tokenized; BPE: the bytes a piece spells are the bytes under it;
 * exact offsets for hand-checked cases). Also decoding, and tokenizer_load's
 * dispatch and errors on hand-made folders.
 *
 * Special tokens written in the text ("[CLS] hello [MASK] <s> world <mask>
 * [SEP]", case special_tokens_in_text) are split out as their special ids,
 * with each token's AddedToken strip flags (RoBERTa's <mask> and ALBERT's
 * [MASK] eat the space before them, XLM-R's plain "<s>" both sides), as the
 * reference does: we follow it deliberately, so ids match on every case.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fixture_folders.h"
#include "status.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_load.h"

static struct tokenizer *load_folder(const char *name)
{
	char err[512] = "";
	struct tokenizer *t = NULL;
	int rc =
	    tokenizer_load_from(fixture_path(name), TOKENIZER_SOURCE_CLASSIC, &t, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s: %s", name, err);
	return t;
}

/* The token strings of ids, pieces' "##" removed and glued. */
static void glue(const struct tokenizer *t, const struct encoding *e, char *out, size_t n_out,
                 int *has_unk)
{
	size_t k = 0;
	*has_unk = 0;
	out[0] = '\0';
	for (int32_t i = 0; i < e->n; i++) {
		const char *tok = tokenizer_id_to_token(t, e->ids[i]);
		*has_unk |= e->ids[i] == t->unk_id;
		if (i > 0 && strncmp(tok, "##", 2) == 0)
			tok += 2;
		k += (size_t)snprintf(out + k, k < n_out ? n_out - k : 0, "%s", tok);
	}
}

/* The bytes a byte-level BPE token spells: GPT-2's bytes_to_unicode
 * undone, written independently of core/bpe.c. Returns the length, or -1
 * for a character outside the alphabet. */
static int gpt2_bytes(const char *tok, char *out)
{
	int n = 0;
	for (const unsigned char *p = (const unsigned char *)tok; *p;) {
		int cp = *p, len = 1;
		if (cp >= 0xc0 && cp < 0xe0 && (p[1] & 0xc0) == 0x80) {
			cp = ((cp & 0x1f) << 6) | (p[1] & 0x3f);
			len = 2;
		}
		if (cp < 0x80 || len == 2) {
			if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) ||
			    (cp >= 0xae && cp <= 0xff))
				out[n++] = (char)cp;
			else if (cp >= 0x100 && cp <= 0x120)
				out[n++] = (char)(cp - 0x100);
			else if (cp >= 0x121 && cp <= 0x142)
				out[n++] = (char)(cp - 0x121 + 0x7f);
			else if (cp == 0x143)
				out[n++] = (char)0xad;
			else
				return -1;
		} else {
			return -1;
		}
		p += len;
	}
	return n;
}

/*
 * Every non-template token lies inside its text and offsets never go back.
 * WordPiece: the bytes under a token, tokenized alone, give the token again
 * (as pieces whose text joins to the token's text, without its "##").
 * Byte-level BPE: the bytes under a piece are exactly the bytes it spells.
 * SentencePiece: bounds and order only (a piece made of the dummy-prefix
 * "▁" may have no bytes under it).
 */
static void check_offsets(const struct tokenizer *t, const struct encoding *e, const char *texts[2],
                          const size_t n_texts[2], const char *name)
{
	int wordpiece = strcmp(t->ops->name, "wordpiece") == 0,
	    bpe = strcmp(t->ops->name, "bpe") == 0;
	struct encoding sub;
	struct encode_opts plain = {0, 0, 1, TRUNCATION_RIGHT};
	int32_t prev[2] = {0, 0};
	char err[256], got[1024];

	encoding_init(&sub);
	for (int32_t i = 0; i < e->n; i++) {
		if (e->special[i]) {
			ck_assert_msg(e->starts[i] == -1 && e->stops[i] == -1 && e->seq[i] == -1,
			              "%s: special token %d has offsets", name, i);
			continue;
		}
		int s = e->seq[i];
		ck_assert_msg(s == 0 || s == 1, "%s: token %d seq %d", name, i, s);
		ck_assert_msg(e->starts[i] >= 0 &&
		                  (wordpiece || bpe ? e->starts[i] < e->stops[i]
		                                    : e->starts[i] <= e->stops[i]) &&
		                  (size_t)e->stops[i] <= n_texts[s],
		              "%s: token %d offsets [%d,%d) outside [0,%zu)", name, i, e->starts[i],
		              e->stops[i], n_texts[s]);
		ck_assert_msg(e->starts[i] >= prev[s], "%s: token %d starts before token %d", name,
		              i, i - 1);
		prev[s] = e->starts[i];

		const char *tok = tokenizer_id_to_token(t, e->ids[i]);
		if (bpe) {
			int k = gpt2_bytes(tok, got);
			ck_assert_msg(k == e->stops[i] - e->starts[i] &&
			                  memcmp(got, texts[s] + e->starts[i], (size_t)k) == 0,
			              "%s: piece %d \"%s\" does not spell the bytes [%d,%d)", name,
			              i, tok, e->starts[i], e->stops[i]);
			continue;
		}
		if (!wordpiece || e->ids[i] == t->unk_id)
			continue;
		ck_assert_int_eq(tokenizer_encode(t, texts[s] + e->starts[i],
		                                  (size_t)(e->stops[i] - e->starts[i]), NULL, 0,
		                                  &plain, &sub, err, sizeof(err)),
		                 0);
		int has_unk;
		glue(t, &sub, got, sizeof(got), &has_unk);
		if (has_unk)
			continue; /* e.g. "##ing" alone: "ing" may need pieces not in vocab */
		ck_assert_msg(strcmp(got, strncmp(tok, "##", 2) == 0 ? tok + 2 : tok) == 0,
		              "%s: token %d \"%s\" [%d,%d) re-tokenizes as \"%s\"", name, i, tok,
		              e->starts[i], e->stops[i], got);
	}
	encoding_dispose(&sub);
}

static int32_t json_int_at(const json_t *arr, size_t i)
{
	return (int32_t)json_integer_value(json_array_get(arr, i));
}

START_TEST(test_fixture_cases)
{
	const char *folder = FOLDERS[_i];
	struct tokenizer *t = load_folder(folder);
	json_t *root = fixture_expected(folder);
	json_t *cases = json_object_get(root, "cases");
	int32_t max_length = (int32_t)json_integer_value(json_object_get(root, "max_length"));
	struct encoding e;
	char err[256] = "", name[300];

	ck_assert_int_gt(max_length, 0);
	ck_assert_int_eq(t->model_max_length, 128);
	ck_assert_int_gt(json_array_size(cases), 0);
	encoding_init(&e);
	for (size_t c = 0; c < json_array_size(cases); c++) {
		const json_t *cs = json_array_get(cases, c);
		const json_t *jt = json_object_get(cs, "text"),
		             *jp = json_object_get(cs, "text_pair");
		const json_t *ids = json_object_get(cs, "input_ids");
		const json_t *types = json_object_get(cs, "token_type_ids");
		const char *texts[2] = {json_string_value(jt), json_string_value(jp)};
		const size_t n_texts[2] = {json_string_length(jt), json_string_length(jp)};
		struct encode_opts o = {1, max_length, 1, TRUNCATION_RIGHT};

		snprintf(name, sizeof(name), "%s/%s", folder,
		         json_string_value(json_object_get(cs, "name")));
		ck_assert_msg(texts[0] != NULL, "%s: no text", name);
		int rc = tokenizer_encode(t, texts[0], n_texts[0], texts[1], n_texts[1], &o, &e,
		                          err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: %s", name, err);
		ck_assert_msg((size_t)e.n == json_array_size(ids), "%s: %d tokens, want %zu", name,
		              e.n, json_array_size(ids));
		for (int32_t i = 0; i < e.n; i++) {
			ck_assert_msg(e.ids[i] == json_int_at(ids, (size_t)i),
			              "%s: token %d is %d (%s), want %d", name, i, e.ids[i],
			              tokenizer_id_to_token(t, e.ids[i]),
			              json_int_at(ids, (size_t)i));
			ck_assert_msg(e.type_ids[i] == json_int_at(types, (size_t)i),
			              "%s: token type %d", name, i);
		}
		ck_assert_msg(e.truncated == json_is_true(json_object_get(cs, "truncated")),
		              "%s: truncated", name);
		ck_assert_int_eq(e.n_untruncated,
		                 json_integer_value(json_object_get(cs, "num_tokens_untruncated")));
		check_offsets(t, &e, texts, n_texts, name);

		/* Without truncation the long cases are an error naming both lengths. */
		if (e.truncated) {
			char want[128];
			o.truncate = 0;
			ck_assert_int_eq(tokenizer_encode(t, texts[0], n_texts[0], texts[1],
			                                  n_texts[1], &o, &e, err, sizeof(err)),
			                 STATUS_ETOOLONG);
			snprintf(want, sizeof(want),
			         "`inputs` must have less than %d tokens. Given: %d", max_length,
			         e.n_untruncated);
			ck_assert_str_eq(err, want);
		}
	}
	encoding_dispose(&e);
	json_decref(root);
	tokenizer_destroy(t);
}
END_TEST

/* Every fixture folder with an expected.json is in FOLDERS (fixture_folders.h). */
START_TEST(test_all_folders_listed)
{
	char dir[4096], path[4600];
	snprintf(dir, sizeof(dir), "%s", fixture_path(""));
	DIR *d = opendir(dir);
	struct dirent *ent;
	int n_found = 0;
	ck_assert_ptr_nonnull(d);
	while ((ent = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s/expected.json", dir, ent->d_name);
		if (ent->d_name[0] == '.' || access(path, R_OK) != 0)
			continue;
		int listed = 0;
		for (int i = 0; i < N_FOLDERS; i++)
			listed |= strcmp(FOLDERS[i], ent->d_name) == 0;
		ck_assert_msg(listed, "fixture %s has expected.json but is not tested",
		              ent->d_name);
		n_found++;
	}
	closedir(d);
	ck_assert_int_eq(n_found, N_FOLDERS);
}
END_TEST

/* Offsets checked by hand: token index (with [CLS] at 0), text, span. */
struct span_case {
	const char *folder, *name;
	int index;
	const char *token;
	int start, stop, seq;
};

static const struct span_case spans[] = {
    {"bert", "hello", 1, "hello", 0, 5, 0},
    {"bert", "hello", 2, ",", 5, 6, 0},
    {"bert", "hello", 3, "world", 7, 12, 0},
    {"bert", "hello", 4, "!", 12, 13, 0},
    {"bert", "whitespace", 1, "lot", 3, 6, 0},
    {"bert", "whitespace", 2, "##s", 6, 7, 0},
    {"bert", "whitespace", 3, "of", 10, 12, 0},
    {"bert", "punctuation", 12, "real", 16, 20, 0},
    {"bert", "punctuation", 13, "##ly", 20, 22, 0},
    {"bert", "accents", 1, "cafe", 0, 5, 0},       /* "café": é is 2 bytes */
    {"bert", "accents", 4, "angstrom", 22, 32, 0}, /* "Ångström" */
    {"bert", "accents_nfd", 1, "cafe", 0, 6, 0},   /* "cafe" U+0301 */
    {"bert", "accents_nfd", 2, "naive", 7, 14, 0},
    {"bert", "chinese", 1, "我", 0, 3, 0},
    {"bert", "chinese", 8, "[UNK]", 21, 24, 0}, /* "。" */
    {"bert", "chinese", 9, "hello", 24, 29, 0},
    {"bert", "emoji", 4, "[UNK]", 13, 21, 0}, /* two emoji, one word */
    {"bert", "emoji", 8, "!", 38, 39, 0},
    {"bert", "control_chars", 3, "##o", 3, 4, 0},
    {"bert", "control_chars", 4, "##w", 7, 8, 0}, /* after a 3-byte U+200B */
    {"bert", "special_tokens_in_text", 1, "[CLS]", 0, 5, 0},
    {"bert", "special_tokens_in_text", 3, "[MASK]", 12, 18, 0},
    {"bert", "special_tokens_in_text", 14, "[SEP]", 36, 41, 0},
    {"bert", "pair", 5, "?", 15, 16, 0},
    {"bert", "pair", 7, "i", 0, 1, 1},
    {"bert", "pair", 12, ".", 18, 19, 1},
    {"electra", "accents_nfd", 1, "café", 0, 6, 0},
    {"electra", "accents_nfd", 2, "naïve", 7, 14, 0},
    {"electra", "mixed_case", 2, "##e", 1, 2, 0},
    {"roberta", "accents", 2, "afÃ©", 1, 5, 0}, /* "afé": é is 2 bytes */
    {"roberta", "accents", 4, "aÃ", 7, 9, 0},   /* "a" and ï's first byte */
    {"roberta", "accents", 5, "¯", 9, 10, 0},   /* ï's second byte */
    {"roberta", "whitespace", 1, "Ġ", 0, 1, 0},
    {"roberta", "whitespace", 3, "Ġlo", 2, 5, 0},
    {"roberta", "emoji", 9, "ð", 13, 14, 0},
    {"roberta", "special_tokens_in_text", 14, "Ġ", 18, 19, 0},
    {"roberta", "special_tokens_in_text", 15, "<s>", 19, 22, 0},
    {"roberta", "special_tokens_in_text", 16, "Ġworld", 22, 28, 0},
    {"roberta", "special_tokens_in_text", 17, "<mask>", 29, 35, 0}, /* lstrip ate 28 */
    {"roberta", "special_tokens_in_text", 18, "Ġ", 35, 36, 0},
    {"roberta", "pair", 8, "I", 0, 1, 1},
    {"roberta", "pair", 14, ".", 18, 19, 1},
};

START_TEST(test_exact_offsets)
{
	struct encoding e;
	char err[256];
	struct encode_opts o = {1, 128, 1, TRUNCATION_RIGHT};
	encoding_init(&e);
	for (size_t k = 0; k < sizeof(spans) / sizeof(spans[0]); k++) {
		const struct span_case *sc = &spans[k];
		struct tokenizer *t = load_folder(sc->folder);
		json_t *root = fixture_expected(sc->folder),
		       *cases = json_object_get(root, "cases");
		const json_t *cs = NULL;
		for (size_t c = 0; c < json_array_size(cases); c++)
			if (strcmp(json_string_value(
			               json_object_get(json_array_get(cases, c), "name")),
			           sc->name) == 0)
				cs = json_array_get(cases, c);
		ck_assert_msg(cs != NULL, "no case %s", sc->name);
		const json_t *jt = json_object_get(cs, "text"),
		             *jp = json_object_get(cs, "text_pair");
		ck_assert_int_eq(tokenizer_encode(t, json_string_value(jt), json_string_length(jt),
		                                  json_string_value(jp), json_string_length(jp), &o,
		                                  &e, err, sizeof(err)),
		                 0);
		ck_assert_int_lt(sc->index, e.n);
		ck_assert_str_eq(tokenizer_id_to_token(t, e.ids[sc->index]), sc->token);
		ck_assert_msg(e.starts[sc->index] == sc->start && e.stops[sc->index] == sc->stop &&
		                  e.seq[sc->index] == sc->seq,
		              "%s/%s token %d %s: [%d,%d) seq %d, want [%d,%d) seq %d", sc->folder,
		              sc->name, sc->index, sc->token, e.starts[sc->index],
		              e.stops[sc->index], e.seq[sc->index], sc->start, sc->stop, sc->seq);
		json_decref(root);
		tokenizer_destroy(t);
	}
	encoding_dispose(&e);
}
END_TEST

START_TEST(test_specials_and_decode)
{
	struct tokenizer *t = load_folder("bert");
	char out[256], err[256];
	const int32_t ids[] = {t->cls_id, 1, t->sep_id};
	ck_assert_str_eq(tokenizer_id_to_token(t, t->cls_id), "[CLS]");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->sep_id), "[SEP]");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->pad_id), "[PAD]");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->unk_id), "[UNK]");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->mask_id), "[MASK]");
	ck_assert_str_eq(t->ops->name, "wordpiece");
	ck_assert_int_ge(tokenizer_decode(t, ids, 3, 0, out, sizeof(out), err, sizeof(err)), 0);

	/* Round trip of an all-lower-case ASCII sentence. */
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	const char *text = "the quick brown fox jumps over the lazy dog.";
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err)),
	    (int)strlen(text));
	ck_assert_str_eq(out, text);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_roberta_decode)
{
	struct tokenizer *t = load_folder("roberta");
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char out[256], err[256];
	const char *text = "Hello, world! The caf\xc3\xa9 costs $3.50 \xf0\x9f\x8d\x95";
	ck_assert_str_eq(t->ops->name, "bpe");
	ck_assert_int_eq(t->template_kind, TEMPLATE_ROBERTA);
	ck_assert_str_eq(tokenizer_id_to_token(t, t->cls_id), "<s>");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->sep_id), "</s>");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->pad_id), "<pad>");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->unk_id), "<unk>");
	ck_assert_str_eq(tokenizer_id_to_token(t, t->mask_id), "<mask>");
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err)),
	    (int)strlen(text));
	ck_assert_str_eq(out, text);
	/* Specials kept: joined without spaces, as RobertaTokenizer. */
	ck_assert_int_eq(tokenizer_decode(t, e.ids, 3, 0, out, sizeof(out), err, sizeof(err)), 9);
	ck_assert_str_eq(out, "<s>Hello,");
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

/* --- load errors on hand-made folders --------------------------------- */

static const char *const scratch_files[] = {
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
    "tokenizer.json",
    "vocab.json",
    "sentencepiece.bpe.model",
    "merges.txt",
    "spm.model",
};

static char scratch[64];

static void scratch_setup(void)
{
	snprintf(scratch, sizeof(scratch), "/tmp/smolserve-tok-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
}

static void scratch_teardown(void)
{
	char path[256];
	for (size_t i = 0; i < sizeof(scratch_files) / sizeof(scratch_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, scratch_files[i]);
		unlink(path);
	}
	rmdir(scratch);
}

static void put(const char *name, const char *data, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

#define PUT(name, lit) put((name), (lit), sizeof(lit) - 1)
#define VOCAB          "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n"

static int load_err(char *err, size_t n_err)
{
	struct tokenizer *t = NULL;
	int rc = tokenizer_load(scratch, &t, err, n_err);
	if (rc == 0)
		tokenizer_destroy(t);
	return rc;
}

START_TEST(test_load_missing)
{
	char err[512] = "";
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EIO);
	ck_assert_ptr_nonnull(strstr(err, "vocab.txt"));
	ck_assert_ptr_nonnull(strstr(err, "tokenizer.json"));
	PUT("spiece.model", "x"); /* not a ModelProto */
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "spiece.model: "));
	scratch_teardown();
	scratch_setup();
	PUT("tokenizer.json", "{}"); /* preferred, and read */
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "tokenizer.json") != NULL, "%s", err);
	struct tokenizer *t = NULL; /* unless the classic files are asked for */
	ck_assert_int_eq(
	    tokenizer_load_from(scratch, TOKENIZER_SOURCE_CLASSIC, &t, err, sizeof(err)),
	    STATUS_EUNSUPPORTED);
	ck_assert_msg(strstr(err, "tokenizer.json") != NULL, "%s", err);
	scratch_teardown();
	scratch_setup();
	ck_assert_int_eq(tokenizer_load_from(scratch, TOKENIZER_SOURCE_JSON, &t, err, sizeof(err)),
	                 STATUS_EIO);
	ck_assert_msg(strstr(err, "tokenizer.json: no such file") != NULL, "%s", err);
	PUT("vocab.json", "{}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "vocab.json without merges.txt"));

	/* A tokenizer_class needs its own files. */
	static const char *const need[][2] = {
	    {"RobertaTokenizer", "vocab.json and merges.txt"},
	    {"AlbertTokenizer", "spiece.model"},
	    {"XLMRobertaTokenizerFast", "sentencepiece.bpe.model"},
	    {"MobileBertTokenizer", "vocab.txt"},
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		char cfg[128];
		snprintf(cfg, sizeof(cfg), "{\"tokenizer_class\": \"%s\"}", need[i][0]);
		put("tokenizer_config.json", cfg, strlen(cfg));
		ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EIO);
		ck_assert_msg(strstr(err, need[i][1]) != NULL, "%s: %s", need[i][0], err);
	}
}
END_TEST

/* DeBERTa-v3 keeps [MASK] outside spm.model, at the id after the last
 * piece (added_tokens.json {"[MASK]": 128000}): a special token the
 * vocabulary lacks is appended at its consecutive id and split out of the
 * text; a gap or a non-special added token is refused. */
START_TEST(test_load_deberta_added_special)
{
	char err[512] = "", out[256];
	char *model = NULL;
	size_t n_model = 0;
	FILE *f = fopen(fixture_path("deberta-v2/spm.model"), "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n_model = (size_t)ftell(f);
	rewind(f);
	model = malloc(n_model);
	ck_assert_uint_eq(fread(model, 1, n_model, f), n_model);
	fclose(f);
	put("spm.model", model, n_model);
	free(model);
	PUT("tokenizer_config.json", "{\"tokenizer_class\": \"DebertaV2Tokenizer\"}");
	struct tokenizer *t = NULL;
	ck_assert_int_eq(tokenizer_load(scratch, &t, err, sizeof(err)), 0);
	int32_t n = t->vocab.n_tokens;
	tokenizer_destroy(t);

	char added[64];
	PUT("special_tokens_map.json", "{\"mask_token\": \"<extra_mask>\"}");
	snprintf(added, sizeof(added), "{\"<extra_mask>\": %d}", (int)n);
	put("added_tokens.json", added, strlen(added));
	ck_assert_msg(tokenizer_load(scratch, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(t->mask_id, n);
	ck_assert_str_eq(tokenizer_id_to_token(t, n), "<extra_mask>");
	struct encoding e;
	struct encode_opts o = {1, 0, 0, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(
	    tokenizer_encode(t, "hello <extra_mask> world", 24, NULL, 0, &o, &e, err, sizeof(err)),
	    0);
	int found = 0;
	for (int32_t i = 0; i < e.n; i++)
		found += e.ids[i] == n;
	ck_assert_int_eq(found, 1);
	ck_assert_int_ge(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 0, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "<extra_mask>"));
	ck_assert_int_ge(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "hello world");
	encoding_dispose(&e);
	tokenizer_destroy(t);

	snprintf(added, sizeof(added), "{\"<extra_mask>\": %d}", (int)n + 1);
	put("added_tokens.json", added, strlen(added));
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "without a gap"));
	snprintf(added, sizeof(added), "{\"<other>\": %d}", (int)n);
	put("added_tokens.json", added, strlen(added));
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "<other>"));
}
END_TEST

#define BPE_VOCAB                                                                                  \
	"{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"a\": 4, \"b\": 5, \"\u0120\": "   \
	"6, "                                                                                      \
	"\"\u0120a\": 7, \"<mask>\": 8, \"<x>\": 9}"
#define BPE_MERGES "#version: 0.2\n\u0120 a\n"

START_TEST(test_load_bpe)
{
	char err[512] = "";
	struct tokenizer *t = NULL;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	PUT("vocab.json", BPE_VOCAB);
	PUT("merges.txt", BPE_MERGES);
	ck_assert_msg(tokenizer_load(scratch, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(t->ops->name, "bpe"); /* by its files, without a config */
	ck_assert_int_eq(t->cls_id, 0);
	ck_assert_int_eq(t->mask_id, 8);
	ck_assert_int_eq(t->model_max_length, 0);
	tokenizer_destroy(t);

	/* add_prefix_space; <s> a plain string in special_tokens_map.json
	 * (strips both sides), <mask> an AddedToken that strips nothing, and
	 * additional_special_tokens split out too. */
	PUT("tokenizer_config.json",
	    "{\"tokenizer_class\": \"RobertaTokenizer\", \"add_prefix_space\": true,\n"
	    " \"model_max_length\": 64, \"errors\": \"replace\"}");
	PUT("special_tokens_map.json",
	    "{\"cls_token\": \"<s>\", \"mask_token\": {\"content\": \"<mask>\", \"lstrip\": "
	    "false},\n \"additional_special_tokens\": [\"<x>\"]}");
	ck_assert_msg(tokenizer_load(scratch, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(t->model_max_length, 64);
	encoding_init(&e);
	ck_assert_int_eq(
	    tokenizer_encode(t, "a <s> a <mask>b<x>", 18, NULL, 0, &o, &e, err, sizeof(err)), 0);
	const int32_t want[] = {0, 7, 0, 4, 6, 8, 5, 9, 2}; /* <s> Ġa <s> a Ġ <mask> b <x> </s> */
	ck_assert_int_eq(e.n, 9);
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(e.ids[i], want[i]);
	encoding_dispose(&e);
	tokenizer_destroy(t);

	/* Errors: malformed files name themselves, unknown values refuse. */
	PUT("special_tokens_map.json", "{}");
	PUT("vocab.json", "{\"<unk>\": 0,\n \"a\": x}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "vocab.json: line 2"));
	PUT("vocab.json", BPE_VOCAB);
	PUT("merges.txt", "#version: 0.2\na b c\n");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "merges.txt: line 2"));
	PUT("merges.txt", BPE_MERGES);
	PUT("tokenizer_config.json", "{\"errors\": \"strict\"}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	PUT("tokenizer_config.json", "{\"add_prefix_space\": 1}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	PUT("tokenizer_config.json", "{\"mask_token\": {\"content\": \"<mask>\", \"lstrip\": 1}}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	PUT("tokenizer_config.json", "{\"unk_token\": \"<nope>\"}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "vocab.json has no unk token \"<nope>\""));
	PUT("tokenizer_config.json", "{\"additional_special_tokens\": [\"<new>\"]}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "<new>"));
	PUT("tokenizer_config.json", "{}");
	PUT("added_tokens.json", "{\"<new>\": 10}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "not in vocab.json"));
	PUT("added_tokens.json", "{\"<mask>\": 8}");
	ck_assert_int_eq(load_err(err, sizeof(err)), 0);
	/* A class smolserve does not read, whatever the files. */
	PUT("tokenizer_config.json", "{\"tokenizer_class\": \"GPT2Tokenizer\"}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "GPT2Tokenizer"));
}
END_TEST

START_TEST(test_load_malformed)
{
	char err[512] = "";
	PUT("vocab.txt", VOCAB);
	PUT("tokenizer_config.json", "{\n  \"do_lower_case\": true,\n  oops\n}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "tokenizer_config.json: line 3"));
	PUT("tokenizer_config.json", "[1]");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	PUT("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "do_lower_case"));
	PUT("tokenizer_config.json", "{\"strip_accents\": 1}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	PUT("tokenizer_config.json", "{\"cls_token\": 5}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	PUT("tokenizer_config.json", "{\"tokenizer_class\": \"XLNetTokenizer\"}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "XLNetTokenizer"));
	PUT("tokenizer_config.json", "{\"do_basic_tokenize\": false}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	PUT("tokenizer_config.json", "{}");
	PUT("special_tokens_map.json", "{\"unk_token\": ");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "special_tokens_map.json"));
	PUT("special_tokens_map.json", "{}");
	ck_assert_int_eq(load_err(err, sizeof(err)), 0);
	PUT("added_tokens.json", "{\"<new>\": 7}");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EUNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(err, "<new>"));
	PUT("added_tokens.json", "{\"hello\": 5}");
	ck_assert_int_eq(load_err(err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_load_vocab)
{
	char err[512] = "";
	PUT("vocab.txt", "");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	PUT("vocab.txt", "[PAD]\n[CLS]\nhello\n");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "[UNK]"));
	PUT("vocab.txt", "[UNK]\nh\xc3(llo\n");
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
	put("vocab.txt", "[UNK]\nx\0y\n", 10);
	ck_assert_int_eq(load_err(err, sizeof(err)), STATUS_EFORMAT);

	/* CRLF and a last line without newline; trailing spaces are kept. */
	struct tokenizer *t = NULL;
	PUT("vocab.txt", "[PAD]\r\n[UNK]\r\nhello \r\n[CLS]\r\n[SEP]\r\nworld");
	ck_assert_int_eq(tokenizer_load(scratch, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t->vocab.n_tokens, 6);
	ck_assert_str_eq(tokenizer_id_to_token(t, 2), "hello ");
	ck_assert_str_eq(tokenizer_id_to_token(t, 5), "world");
	ck_assert_int_eq(t->unk_id, 1);
	ck_assert_int_eq(t->cls_id, 3);
	ck_assert_int_eq(t->sep_id, 4);
	ck_assert_int_eq(t->mask_id, 1); /* "[MASK]" not in vocab: unk, as HF */
	ck_assert_int_eq(t->model_max_length, 0);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_load_config)
{
	char err[512] = "";
	struct tokenizer *t = NULL;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	PUT("vocab.txt", "<pad>\n<unk>\n<s>\n</s>\nhello\nHello\nworld\n");
	PUT("tokenizer_config.json",
	    "{\"do_lower_case\": false, \"model_max_length\": 1000000000000000019884624838656,\n"
	    " \"cls_token\": \"[CLS]\", \"unk_token\": {\"content\": \"<unk>\", \"lstrip\": "
	    "false},\n"
	    " \"tokenizer_class\": \"BertTokenizerFast\", \"strip_accents\": null}");
	PUT("special_tokens_map.json",
	    "{\"cls_token\": {\"content\": \"<s>\"}, \"sep_token\": \"</s>\", \"pad_token\": "
	    "\"<pad>\", \"mask_token\": null}");
	ck_assert_msg(tokenizer_load(scratch, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(t->model_max_length, 0); /* 1e30 means "no limit" */
	ck_assert_int_eq(t->cls_id, 2);
	ck_assert_int_eq(t->sep_id, 3);
	ck_assert_int_eq(t->pad_id, 0);
	ck_assert_int_eq(t->unk_id, 1);
	ck_assert_int_eq(t->mask_id, -1);
	encoding_init(&e);
	ck_assert_int_eq(
	    tokenizer_encode(t, "Hello <s>world", 14, NULL, 0, &o, &e, err, sizeof(err)), 0);
	const int32_t want[] = {2, 5, 2, 6, 3}; /* cased; "<s>" in the text is special */
	ck_assert_int_eq(e.n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(e.ids[i], want[i]);
	encoding_dispose(&e);
	tokenizer_destroy(t);

	PUT("tokenizer_config.json", "{\"model_max_length\": 512}");
	PUT("special_tokens_map.json", "{\"unk_token\": \"<unk>\"}");
	ck_assert_msg(tokenizer_load(scratch, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(t->model_max_length, 512);
	ck_assert_int_eq(t->cls_id, 1); /* "[CLS]" missing: unk */
	tokenizer_destroy(t);
}
END_TEST

static Suite *tokenizer_fixtures_suite(void)
{
	Suite *s = suite_create("tokenizer_fixtures");
	TCase *tc = tcase_create("fixtures");
	tcase_add_loop_test(tc, test_fixture_cases, 0, N_FOLDERS);
	tcase_add_test(tc, test_all_folders_listed);
	tcase_add_test(tc, test_exact_offsets);
	tcase_add_test(tc, test_specials_and_decode);
	tcase_add_test(tc, test_roberta_decode);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	TCase *le = tcase_create("load_errors");
	tcase_add_checked_fixture(le, scratch_setup, scratch_teardown);
	tcase_add_test(le, test_load_missing);
	tcase_add_test(le, test_load_malformed);
	tcase_add_test(le, test_load_vocab);
	tcase_add_test(le, test_load_config);
	tcase_add_test(le, test_load_bpe);
	tcase_add_test(le, test_load_deberta_added_special);
	suite_add_tcase(s, le);
	return s;
}

int main(void)
{
	return test_run_suite(tokenizer_fixtures_suite());
}
