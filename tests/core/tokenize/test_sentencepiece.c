/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/sentencepiece*.c: every case of the albert,
 * albert-seqcls and xlm-roberta fixtures token-for-token against Hugging
 * Face transformers v4.31's slow AlbertTokenizer / XLMRobertaTokenizer
 * (template specials removed: the template and truncation belong to
 * tokenizer.c and are checked by the fixture suite), byte offsets into the
 * original text, decoding, BPE / unigram / byte fallback / user-defined
 * pieces on hand-made models, corrupt model files, and four threads
 * sharing one tokenizer.
 *
 * Special tokens written in the text (case special_tokens_in_text) are
 * followed deliberately: they are split out as the reference does, with
 * the mask token absorbing the whitespace before it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "sentencepiece.h"
#include "status.h"
#include "test_util.h"
#include "tokenizer.h"

/* --- helpers ----------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*n = (size_t)size;
	return buf;
}

static struct tokenizer *load_fixture(const char *folder, enum sentencepiece_flavour flavour)
{
	char sub[256], err[256] = "";
	size_t n;
	snprintf(sub, sizeof(sub), "%s/%s", folder,
	         flavour == SPM_ALBERT ? "spiece.model" : "sentencepiece.bpe.model");
	uint8_t *bytes = read_file(fixture_path(sub), &n);
	/* as their tokenizer_config.json say (XLM-R ignores the three) */
	struct sentencepiece_opts o = {flavour, 1, 1, 0};
	struct tokenizer *t = NULL;
	int rc = sentencepiece_create(bytes, n, &o, &t, err, sizeof(err));
	free(bytes);
	ck_assert_msg(rc == 0, "%s: %s", folder, err);
	return t;
}

/* Pieces of one text (no specials) into e. */
static void pieces(const struct tokenizer *t, const char *text, size_t n, struct encoding *e)
{
	char err[256] = "";
	e->n = 0;
	int rc = t->ops->pieces(t, text, n, e, err, sizeof(err));
	ck_assert_msg(rc == 0, "pieces(%s): %s", text, err);
}

static char *join_ids(const int32_t *ids, size_t n)
{
	static char buf[8192];
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && k < sizeof(buf) - 16; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%d", i ? " " : "", (int)ids[i]);
	return buf;
}

/* transformers' truncate_sequences (longest_first): tokens kept. */
static void kept_lengths(int32_t n_a, int32_t n_b, int pair, int64_t remove, int32_t *k_a,
                         int32_t *k_b)
{
	*k_a = n_a;
	*k_b = n_b;
	if (remove <= 0)
		return;
	if (!pair) {
		*k_a = remove < n_a ? n_a - (int32_t)remove : 0;
		return;
	}
	for (int64_t i = 0; i < remove; i++) {
		if (*k_a > *k_b)
			(*k_a)--;
		else
			(*k_b)--;
	}
}

/* Checks expected[at, at + n_kept) == e's first n_kept ids. */
static void expect_ids(const char *folder, const char *name, const int32_t *want, size_t n_want,
                       size_t at, const struct encoding *e, int32_t n_kept)
{
	ck_assert_msg(at + (size_t)n_kept <= n_want, "%s/%s: reference too short", folder, name);
	int ok = memcmp(want + at, e->ids, (size_t)n_kept * sizeof(int32_t)) == 0;
	if (!ok) {
		char got[8192];
		snprintf(got, sizeof(got), "%s", join_ids(e->ids, (size_t)n_kept));
		ck_abort_msg("%s/%s:\n got  %s\n want %s", folder, name, got,
		             join_ids(want + at, (size_t)n_kept));
	}
}

/*
 * Every case: pieces(text) [and pieces(text_pair)] equal the reference
 * input_ids with the template's specials removed; with truncation, the
 * kept prefix, and num_tokens_untruncated equals our count plus specials.
 */
static void check_fixture(const char *folder, enum sentencepiece_flavour flavour)
{
	struct tokenizer *t = load_fixture(folder, flavour);
	json_t *root = fixture_expected(folder);
	json_t *cases = json_object_get(root, "cases");
	int32_t max_length = (int32_t)json_integer_value(json_object_get(root, "max_length"));
	int xlmr = flavour == SPM_XLM_ROBERTA;
	struct encoding a, b;
	encoding_init(&a);
	encoding_init(&b);
	size_t i, n_matched = 0;
	json_t *c;
	json_array_foreach(cases, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		json_t *jt = json_object_get(c, "text"), *jp = json_object_get(c, "text_pair");
		size_t n_want;
		int32_t *want = json_ints(json_object_get(c, "input_ids"), &n_want);
		ck_assert_ptr_nonnull(want);
		int pair = json_is_string(jp);
		pieces(t, json_string_value(jt), json_string_length(jt), &a);
		b.n = 0;
		if (pair)
			pieces(t, json_string_value(jp), json_string_length(jp), &b);
		int32_t n_specials = pair ? (xlmr ? 4 : 3) : 2;
		int64_t total = (int64_t)a.n + b.n + n_specials;
		ck_assert_int_eq(total,
		                 json_integer_value(json_object_get(c, "num_tokens_untruncated")));
		int32_t k_a, k_b;
		kept_lengths(a.n, b.n, pair, total - max_length, &k_a, &k_b);
		ck_assert_int_eq((size_t)(k_a + k_b + n_specials), n_want);
		ck_assert_int_eq(want[0], t->cls_id);
		expect_ids(folder, name, want, n_want, 1, &a, k_a);
		ck_assert_int_eq(want[1 + k_a], t->sep_id);
		if (pair) {
			size_t at = 2 + (size_t)k_a + (size_t)xlmr;
			if (xlmr)
				ck_assert_int_eq(want[2 + k_a], t->sep_id);
			expect_ids(folder, name, want, n_want, at, &b, k_b);
		}
		ck_assert_int_eq(want[n_want - 1], t->sep_id);
		n_matched++;
		free(want);
	}
	printf("sentencepiece %s: %zu/%zu cases match\n", folder, n_matched,
	       json_array_size(cases));
	encoding_dispose(&a);
	encoding_dispose(&b);
	json_decref(root);
	tokenizer_destroy(t);
}

START_TEST(test_fixture_albert)
{
	check_fixture("albert", SPM_ALBERT);
}
END_TEST

START_TEST(test_fixture_albert_seqcls)
{
	check_fixture("albert-seqcls", SPM_ALBERT);
}
END_TEST

START_TEST(test_fixture_xlm_roberta)
{
	check_fixture("xlm-roberta", SPM_XLM_ROBERTA);
}
END_TEST

/* --- offsets ------------------------------------------------------------ */

struct want_tok {
	const char *tok;
	int32_t start, stop;
};

static void check_offsets(const struct tokenizer *t, const char *text, const struct want_tok *want,
                          int32_t n_want)
{
	struct encoding e;
	encoding_init(&e);
	pieces(t, text, strlen(text), &e);
	for (int32_t i = 0; i < e.n && i < n_want; i++) {
		const char *tok = tokenizer_id_to_token(t, e.ids[i]);
		ck_assert_msg(strcmp(tok, want[i].tok) == 0 && e.starts[i] == want[i].start &&
		                  e.stops[i] == want[i].stop,
		              "%s: token %d: got %s [%d, %d), want %s [%d, %d)", text, (int)i, tok,
		              (int)e.starts[i], (int)e.stops[i], want[i].tok, (int)want[i].start,
		              (int)want[i].stop);
	}
	ck_assert_int_eq(e.n, n_want);
	encoding_dispose(&e);
}

START_TEST(test_offsets_albert)
{
	struct tokenizer *t = load_fixture("albert", SPM_ALBERT);
	/* the dummy prefix is empty; "▁world" includes its space */
	static const struct want_tok hello[] = {
	    {"▁", 0, 0}, {"hell", 0, 4}, {"o", 4, 5}, {",", 5, 6}, {"▁world", 6, 12}, {"!", 12, 13},
	};
	check_offsets(t, "Hello, world!", hello, 6);
	/* NFKD without accents: "é" (2 bytes) -> "e"; NFD "e" + U+0301 too */
	static const struct want_tok cafe[] = {
	    {"▁c", 0, 1}, {"af", 1, 3}, {"e", 3, 5}, {"▁na", 5, 8}, {"i", 8, 10}, {"ve", 10, 12},
	};
	check_offsets(t, "café naïve", cafe, 6);
	static const struct want_tok nfd[] = {
	    {"▁c", 0, 1}, {"af", 1, 3}, {"e", 3, 6}, {"▁na", 6, 9}, {"i", 9, 12}, {"ve", 12, 14},
	};
	check_offsets(t, "cafe\xcc\x81 nai\xcc\x88ve", nfd, 6);
	/* collapsed whitespace: "▁" of "▁o" is the first of the spaces */
	static const struct want_tok ws[] = {
	    {"▁lo", 2, 4}, {"t", 4, 5}, {"s", 5, 6}, {"▁o", 6, 10}, {"f", 10, 11},
	};
	check_offsets(t, "  lots   of ", ws, 5);
	/* special tokens in the text; [MASK] eats the space before it */
	static const struct want_tok sp[] = {
	    {"[CLS]", 0, 5}, {"▁", 6, 6}, {"hell", 6, 10}, {"o", 10, 11}, {"[MASK]", 12, 18},
	};
	check_offsets(t, "[CLS] hello [MASK]", sp, 5);
	/* "3," is re-split into "3" and "," (AlbertTokenizer._tokenize) */
	static const struct want_tok num[] = {{"▁3", 0, 1}, {",", 1, 2}, {"50", 2, 4}, {"0", 4, 5}};
	check_offsets(t, "3,500", num, 4);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_offsets_xlm_roberta)
{
	struct tokenizer *t = load_fixture("xlm-roberta", SPM_XLM_ROBERTA);
	/* NFKC from the charsmap: NFD "e" + U+0301 -> "é" spanning both */
	static const struct want_tok nfd[] = {
	    {"▁c", 0, 1}, {"af", 1, 3}, {"é", 3, 6}, {"▁na", 6, 9}, {"ï", 9, 12}, {"ve", 12, 14},
	};
	check_offsets(t, "cafe\xcc\x81 nai\xcc\x88ve", nfd, 6);
	/* unknown characters merge into one <unk> spanning them */
	static const struct want_tok unk[] = {
	    {"▁H", 0, 1}, {"e", 1, 2}, {"<unk>", 2, 4}, {"o", 4, 5}};
	check_offsets(t, "HeLLo", unk, 4);
	static const struct want_tok sp[] = {
	    {"<s>", 0, 3},
	    {"▁world", 4, 9},
	    {"<mask>", 10, 16},
	    {"</s>", 17, 21},
	};
	check_offsets(t, "<s> world <mask> </s>", sp, 4);
	static const struct want_tok num[] = {{"▁3,", 0, 2}, {"50", 2, 4}, {"0", 4, 5}};
	check_offsets(t, "3,500", num, 3);
	tokenizer_destroy(t);
}
END_TEST

/* --- decode ------------------------------------------------------------- */

static const char *decode(const struct tokenizer *t, const char *text, int with_specials, int skip)
{
	static char buf[1024];
	char err[256] = "";
	struct encoding e;
	struct encode_opts o = {with_specials, 0, 0, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, err, sizeof(err)),
	                 0);
	int n = tokenizer_decode(t, e.ids, (size_t)e.n, skip, buf, sizeof(buf), err, sizeof(err));
	ck_assert_msg(n >= 0 && (size_t)n < sizeof(buf), "decode: %s", err);
	ck_assert_int_eq(strlen(buf), n);
	encoding_dispose(&e);
	return buf;
}

START_TEST(test_decode_albert)
{
	struct tokenizer *t = load_fixture("albert", SPM_ALBERT);
	ck_assert_str_eq(decode(t, "Hello, world!", 0, 0), "hello, world!");
	ck_assert_str_eq(decode(t, "The quick brown fox.", 1, 1), "the quick brown fox.");
	ck_assert_str_eq(decode(t, "The quick brown fox.", 1, 0),
	                 "[CLS] the quick brown fox.[SEP]");
	ck_assert_str_eq(decode(t, "hello [MASK] world", 1, 0), "[CLS] hello[MASK] world[SEP]");
	ck_assert_str_eq(decode(t, "hello [MASK] world", 1, 1), "hello world");
	ck_assert_str_eq(decode(t, "café (x)", 0, 0), "cafe <unk> x<unk>");
	ck_assert_str_eq(decode(t, "", 1, 1), "");
	/* length contract: returns the full length, writes a prefix */
	int32_t ids[] = {8, 107};
	char small[5], err[128];
	ck_assert_int_eq(tokenizer_decode(t, ids, 2, 0, small, sizeof(small), err, sizeof(err)), 9);
	ck_assert_str_eq(small, "the ");
	ck_assert_int_eq(tokenizer_decode(t, ids, 2, 0, NULL, 0, err, sizeof(err)), 9);
	int32_t bad[] = {8, 100000};
	ck_assert_int_eq(tokenizer_decode(t, bad, 2, 0, small, sizeof(small), err, sizeof(err)),
	                 STATUS_EINVAL);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_decode_xlm_roberta)
{
	struct tokenizer *t = load_fixture("xlm-roberta", SPM_XLM_ROBERTA);
	ck_assert_str_eq(decode(t, "Hello, world!", 0, 0), "Hello, world!");
	ck_assert_str_eq(decode(t, "How old are you?", 1, 1), "How old are you?");
	ck_assert_str_eq(decode(t, "How old are you?", 1, 0), "<s> How old are you?</s>");
	ck_assert_str_eq(decode(t, "the <mask> dog", 1, 1), "the dog");
	ck_assert_int_eq(t->mask_id, 321);
	ck_assert_int_eq(t->vocab.n_tokens, 322);
	ck_assert_str_eq(tokenizer_id_to_token(t, 321), "<mask>");
	ck_assert_str_eq(tokenizer_id_to_token(t, 4), "▁");
	ck_assert_int_eq(t->cls_id, 0);
	ck_assert_int_eq(t->pad_id, 1);
	ck_assert_int_eq(t->sep_id, 2);
	ck_assert_int_eq(t->unk_id, 3);
	ck_assert_int_eq(t->template_kind, TEMPLATE_ROBERTA);
	tokenizer_destroy(t);
}
END_TEST

/* --- hand-made models ---------------------------------------------------- */

struct pbw {
	uint8_t b[1 << 16];
	size_t n;
};

static void pbw_varint(struct pbw *w, uint64_t v)
{
	do {
		w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void pbw_bytes(struct pbw *w, int field, const void *p, size_t n)
{
	pbw_varint(w, (uint64_t)field << 3 | 2);
	pbw_varint(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void pbw_int(struct pbw *w, int field, int64_t v)
{
	pbw_varint(w, (uint64_t)field << 3);
	pbw_varint(w, (uint64_t)v);
}

struct tpiece {
	const char *s;
	float score;
	int type;
};

/* A ModelProto of pieces (NORMAL if type 0), model_type, byte_fallback,
 * an empty normaliser spec (identity, default flags). */
static struct pbw *make_model(const struct tpiece *p, size_t n, int model_type, int byte_fallback)
{
	static struct pbw w;
	struct pbw sub;
	w.n = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &p[i].score, 4);
		sub.n = 0;
		pbw_bytes(&sub, 1, p[i].s, strlen(p[i].s));
		pbw_varint(&sub, 2 << 3 | 5);
		for (int k = 0; k < 4; k++)
			sub.b[sub.n++] = (uint8_t)(u >> (8 * k));
		if (p[i].type)
			pbw_int(&sub, 3, p[i].type);
		pbw_bytes(&w, 1, sub.b, sub.n);
	}
	sub.n = 0;
	pbw_int(&sub, 3, model_type);
	pbw_int(&sub, 35, byte_fallback);
	pbw_int(&sub, 41, -1); /* bos_id = -1: a negative int32 varint */
	pbw_bytes(&w, 2, sub.b, sub.n);
	sub.n = 0;
	pbw_bytes(&sub, 1, "identity", 8);
	pbw_bytes(&w, 3, sub.b, sub.n);
	return &w;
}

/* Joins the piece strings of pieces(text) with ' '. */
static const char *toks(const struct tokenizer *t, const char *text)
{
	static char buf[1024];
	struct encoding e;
	encoding_init(&e);
	pieces(t, text, strlen(text), &e);
	buf[0] = '\0';
	for (int32_t i = 0; i < e.n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, tokenizer_id_to_token(t, e.ids[i]));
	}
	encoding_dispose(&e);
	return buf;
}

static struct tokenizer *create(const struct pbw *w, enum sentencepiece_flavour f, int keep_accents)
{
	struct sentencepiece_opts o = {f, 1, 1, keep_accents};
	struct tokenizer *t = NULL;
	char err[256] = "";
	int rc = sentencepiece_create(w->b, w->n, &o, &t, err, sizeof(err));
	ck_assert_msg(rc == 0, "create: %s", err);
	return t;
}

START_TEST(test_bpe)
{
	static const struct tpiece p[] = {
	    {"<unk>", 0, 2}, {"[CLS]", 0, 3}, {"[SEP]", 0, 3},  {"▁", -1, 0},  {"a", -2, 0},
	    {"b", -2, 0},    {"c", -2, 0},    {"ab", -3, 0},    {"bc", -3, 0}, {"abc", -4, 0},
	    {"▁ab", -6, 0},  {"ca", -5, 0},   {"<0x78>", 0, 6},
	};
	struct tokenizer *t = create(make_model(p, sizeof(p) / sizeof(p[0]), 2, 0), SPM_ALBERT, 0);
	/* ab (-3, leftmost of the ties with bc) then abc; ▁ab is too late */
	ck_assert_str_eq(toks(t, "abc"), "▁ abc");
	/* "bc" merges before "ca" (higher score) */
	ck_assert_str_eq(toks(t, "bca"), "▁ bc a");
	/* a run of unknown characters is one <unk>; x is a BYTE piece but no
	 * byte_fallback, so it is unknown too */
	ck_assert_str_eq(toks(t, "axyzb"), "▁ a <unk> b");
	ck_assert_str_eq(toks(t, "ab ab"), "▁ab ▁ab");
	ck_assert_str_eq(toks(t, "  "), "");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_unigram_byte_fallback_user_defined)
{
	static const struct tpiece p[] = {
	    {"<unk>", 0, 2},  {"[CLS]", 0, 3},  {"[SEP]", 0, 3}, {"▁", -1, 0},
	    {"a", -2, 0},     {"b", -2, 0},     {"ab", -3, 0},   {"<0x78>", 0, 6},
	    {"<0xC3>", 0, 6}, {"<0xA9>", 0, 6}, {"x@y", 0, 4},   {"ba", -10, 5},
	};
	struct tokenizer *t = create(make_model(p, sizeof(p) / sizeof(p[0]), 1, 1), SPM_ALBERT, 1);
	/* unknown characters become their bytes; a byte without a piece is unk */
	ck_assert_str_eq(toks(t, "abxé"), "▁ ab <0x78> <0xC3> <0xA9>");
	ck_assert_str_eq(toks(t, "q"), "▁ <unk>");
	/* a user-defined piece is always taken whole (and never normalised) */
	ck_assert_str_eq(toks(t, "ax@yb"), "▁ a x@y b");
	/* an UNUSED piece is never produced */
	ck_assert_str_eq(toks(t, "ba"), "▁ b a");
	/* decoding byte pieces rebuilds UTF-8; a lone bad byte is U+FFFD */
	int32_t ids[] = {3, 6, 7, 8, 9};
	char out[64], err[128];
	ck_assert_int_eq(tokenizer_decode(t, ids, 5, 0, out, sizeof(out), err, sizeof(err)), 5);
	ck_assert_str_eq(out, "abxé");
	int32_t bad[] = {4, 8, 5};
	tokenizer_decode(t, bad, 3, 0, out, sizeof(out), err, sizeof(err));
	ck_assert_str_eq(out, "a\xef\xbf\xbd"
	                      "b");
	tokenizer_destroy(t);
}
END_TEST

/* --- corrupt model files --------------------------------------------------- */

static int try_create(const uint8_t *p, size_t n, char *err, size_t n_err)
{
	struct sentencepiece_opts o = {SPM_ALBERT, 1, 1, 0};
	struct tokenizer *t = NULL;
	int rc = sentencepiece_create(p, n, &o, &t, err, n_err);
	if (rc == 0) { /* a cut between two fields can still be a model */
		struct encoding e;
		encoding_init(&e);
		static const char text[] = "Hello, w\xc3\xb6rld 3,5! \xef\xbc\xa1\xef\xb7\xba\t"
		                           "\xe4\xb8\xad\xe6\x96\x87 \xe2\x80\x8b x\xcc\x81";
		ck_assert_int_eq(t->ops->pieces(t, text, sizeof(text) - 1, &e, err, n_err), 0);
		encoding_dispose(&e);
		tokenizer_destroy(t);
	} else {
		ck_assert_ptr_null(t);
	}
	return rc;
}

START_TEST(test_corrupt_truncated)
{
	size_t n;
	char err[256];
	uint8_t *full = read_file(fixture_path("albert/spiece.model"), &n);
	int n_format = 0, n_ok = 0;
	for (size_t cut = 0; cut < n; cut += cut < 256 ? 1 : 997) {
		uint8_t *p = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
		memcpy(p, full, cut);
		int rc = try_create(p, cut, err, sizeof(err));
		ck_assert_msg(rc == 0 || rc == STATUS_EFORMAT, "cut %zu: %d %s", cut, rc, err);
		n_format += rc == STATUS_EFORMAT;
		n_ok += rc == 0;
		free(p);
	}
	ck_assert_int_gt(n_format, 400);
	ck_assert_int_gt(n_ok, 0); /* cut between two pieces after <unk> */
	/* cut inside the charsmap: always a framing error */
	ck_assert_int_eq(try_create(full, n - 10, err, sizeof(err)), STATUS_EFORMAT);
	ck_assert_msg(strstr(err, "NormalizerSpec") != NULL || strstr(err, "ModelProto") != NULL,
	              "%s", err);
	free(full);
}
END_TEST

START_TEST(test_corrupt_flipped)
{
	size_t n;
	char err[256];
	uint8_t *full = read_file(fixture_path("albert/spiece.model"), &n);
	uint8_t *p = malloc(n);
	unsigned seed = 12345;
	for (int round = 0; round < 300; round++) {
		memcpy(p, full, n);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = round < 150 ? (seed >> 8) % 8192 : (seed >> 8) % n;
			p[at] ^= (uint8_t)(1u << (seed % 8));
		}
		int rc = try_create(p, n, err, sizeof(err));
		ck_assert_msg(rc == 0 || rc == STATUS_EFORMAT || rc == STATUS_EUNSUPPORTED,
		              "round %d: %d %s", round, rc, err);
	}
	free(p);
	free(full);
}
END_TEST

START_TEST(test_corrupt_handmade)
{
	static const struct {
		const char *bytes;
		size_t n;
		int rc;
		const char *substr;
	} cases[] = {
	    {"", 0, STATUS_EFORMAT, "0 pieces"},
	    {"\x0a\x05\x0a\x03"
	     "abc",
	     7, STATUS_EFORMAT, "unk is not defined"},
	    {"\x0a\x7f\x0a\x03"
	     "abc",
	     7, STATUS_EFORMAT, "length past the end"},
	    {"\x0a\x05\x0a\x09"
	     "abc",
	     7, STATUS_EFORMAT, "SentencePiece"},
	    {"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, STATUS_EFORMAT, "ModelProto"},
	    {"\x0b\x00", 2, STATUS_EFORMAT, "wire type"},
	    {"\x08\x01", 2, STATUS_EFORMAT, "wire type 0, expected 2"},
	    {"\x0a\x04\x0a\x02"
	     "ab\x0a\x04\x0a\x02"
	     "ab",
	     12, STATUS_EFORMAT, "already defined"},
	    {"\x0a\x04\x0a\x00\x18\x02", 6, STATUS_EFORMAT, "empty"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x18\x09",
	     9, STATUS_EFORMAT, "unknown type 9"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x10\x02",
	     9, STATUS_EFORMAT, "wire type 0, expected 5"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x18\x02\x12\x02\x18\x03",
	     13, STATUS_EUNSUPPORTED, "model_type 3"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x18\x02\x1a\x06\x12\x04\x08\x00\x00\x00",
	     17, STATUS_EFORMAT, "precompiled_charsmap is broken"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x18\x02\x1a\x0b\x12\x09\x04\x00\x00\x00\x00\x00\x00\x00"
	     "x",
	     22, STATUS_EFORMAT, "precompiled_charsmap is broken"},
	    {"\x0a\x0a\x0a\x06<0xZZ>\x18\x06\x0a\x07\x0a\x03"
	     "abc\x18\x02",
	     21, STATUS_EFORMAT, "byte piece"},
	    {"\x0a\x07\x0a\x03"
	     "abc\x18\x02\x0a\x07\x0a\x03"
	     "def\x18\x02",
	     18, STATUS_EFORMAT, "unk is already defined"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		uint8_t *p = malloc(cases[i].n ? cases[i].n : 1);
		memcpy(p, cases[i].bytes, cases[i].n);
		int rc = try_create(p, cases[i].n, err, sizeof(err));
		ck_assert_msg(rc == cases[i].rc && strstr(err, cases[i].substr) != NULL,
		              "case %zu: %d \"%s\", want %d \"%s\"", i, rc, err, cases[i].rc,
		              cases[i].substr);
		free(p);
	}
	/* a minimal valid model: just <unk> and one piece */
	char err[256] = "";
	ck_assert_int_eq(try_create((const uint8_t *)"\x0a\x07\x0a\x03"
	                                             "abc\x18\x02\x0a\x03\x0a"
	                                             "\x01"
	                                             "a",
	                            14, err, sizeof(err)),
	                 0);
}
END_TEST

/* Random bytes (mostly invalid UTF-8, specials, spaces, digits, commas)
 * straight into ops->pieces: no crash, offsets inside the text, ordered. */
START_TEST(test_random_input)
{
	static const char *const atoms[] = {
	    "[MASK]", "<mask>",       "<s>",          "[SEP]",    " ",  "\t", ",",
	    "3",      "\xe2\x96\x81", "\xcc\x81",     "``",       "''", "a",  "\xff",
	    "\xc3",   "\xe2\x96",     "\xef\xbc\xa1", "\xc4\xb0",
	};
	struct tokenizer *ts[2] = {load_fixture("albert", SPM_ALBERT),
	                           load_fixture("xlm-roberta", SPM_XLM_ROBERTA)};
	struct encoding e;
	char text[256], err[128];
	unsigned seed = 7;
	encoding_init(&e);
	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		int n_atoms = (int)(seed % 24);
		for (int k = 0; k < n_atoms; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *a = atoms[(seed >> 8) % (sizeof(atoms) / sizeof(atoms[0]))];
			if ((seed >> 20) % 4 == 0)
				text[n++] = (char)(seed >> 12);
			else if (n + strlen(a) < sizeof(text))
				memcpy(text + n, a, strlen(a)), n += strlen(a);
		}
		seed = seed * 1103515245u + 12345u;
		const struct tokenizer *t = ts[round % 2];
		e.n = 0;
		ck_assert_int_eq(t->ops->pieces(t, text, n, &e, err, sizeof(err)), 0);
		for (int32_t i = 0; i < e.n; i++) {
			ck_assert(e.ids[i] >= 0 && e.ids[i] < t->vocab.n_tokens);
			ck_assert(e.starts[i] >= 0 && e.starts[i] <= e.stops[i] &&
			          e.stops[i] <= (int32_t)n);
			ck_assert(i == 0 || e.starts[i] >= e.starts[i - 1]);
		}
		char out[1024];
		ck_assert_int_ge(tokenizer_decode(t, e.ids, (size_t)e.n, round % 3 == 0, out,
		                                  sizeof(out), err, sizeof(err)),
		                 0);
	}
	encoding_dispose(&e);
	tokenizer_destroy(ts[0]);
	tokenizer_destroy(ts[1]);
}
END_TEST

/* --- threads ---------------------------------------------------------------- */

struct job {
	const struct tokenizer *t;
	json_t *cases;
	int32_t *ref; /* concatenated reference ids of every case */
	size_t n_ref;
	int fails;
};

static size_t encode_all(const struct tokenizer *t, json_t *cases, int32_t *dst, size_t cap)
{
	struct encoding e;
	size_t i, n = 0;
	json_t *c;
	encoding_init(&e);
	json_array_foreach(cases, i, c)
	{
		json_t *jt = json_object_get(c, "text");
		char err[128];
		e.n = 0;
		if (t->ops->pieces(t, json_string_value(jt), json_string_length(jt), &e, err,
		                   sizeof(err)) != 0)
			return 0;
		for (int32_t k = 0; k < e.n && n < cap; k++)
			dst[n++] = e.ids[k] * 7919 + e.starts[k] * 31 + e.stops[k];
	}
	encoding_dispose(&e);
	return n;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	int32_t *got = malloc(j->n_ref * sizeof(*got) + 4);
	for (int round = 0; round < 20; round++)
		if (encode_all(j->t, j->cases, got, j->n_ref) != j->n_ref ||
		    memcmp(got, j->ref, j->n_ref * sizeof(*got)) != 0)
			j->fails++;
	free(got);
	return NULL;
}

START_TEST(test_threads)
{
	struct tokenizer *t = load_fixture("albert", SPM_ALBERT);
	json_t *root = fixture_expected("albert");
	json_t *cases = json_object_get(root, "cases");
	int32_t *ref = malloc(65536 * sizeof(*ref));
	size_t n_ref = encode_all(t, cases, ref, 65536);
	ck_assert_int_gt(n_ref, 100);
	struct job jobs[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){t, cases, ref, n_ref, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(jobs[i].fails, 0);
	}
	free(ref);
	json_decref(root);
	tokenizer_destroy(t);
}
END_TEST

static Suite *sentencepiece_suite(void)
{
	Suite *s = suite_create("sentencepiece");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fixture_albert);
	tcase_add_test(tc, test_fixture_albert_seqcls);
	tcase_add_test(tc, test_fixture_xlm_roberta);
	tcase_add_test(tc, test_offsets_albert);
	tcase_add_test(tc, test_offsets_xlm_roberta);
	tcase_add_test(tc, test_decode_albert);
	tcase_add_test(tc, test_decode_xlm_roberta);
	tcase_add_test(tc, test_bpe);
	tcase_add_test(tc, test_unigram_byte_fallback_user_defined);
	tcase_add_test(tc, test_corrupt_truncated);
	tcase_add_test(tc, test_corrupt_flipped);
	tcase_add_test(tc, test_corrupt_handmade);
	tcase_add_test(tc, test_random_input);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(sentencepiece_suite());
}
