/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/bpe.c (byte-level BPE, transformers v4.31's slow
 * RobertaTokenizer) through core/tokenizer.c, on hand-made vocab.json and
 * merges.txt: the GPT-2 pre-tokenisation pattern (expected splits computed
 * with the `regex` module the reference uses), bytes and Unicode, offsets,
 * merge priority, special tokens in the text with their strip flags, the
 * RoBERTa template and truncation, decoding, malformed files, a long word,
 * an allocation failing at every point of building, loading, encoding and
 * decoding, and thread safety. The fixture folders roberta and
 * roberta-seqcls check the same code against the reference's own ids
 * (tokenizer_fixtures).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "bpe.h"
#include "status.h"
#include "test_util.h"
#include "tokenizer.h"
#include "tokenizer_load.h"

#include "alloc_failures.h"

/* GPT-2's bytes_to_unicode, restated for the tests. */
static int byte_cp(int b)
{
	if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
		return b;
	return b <= 0x20 ? 256 + b : b <= 0xa0 ? 256 + 33 + (b - 0x7f) : 256 + 67;
}

/* The n bytes of s spelled in the alphabet, into out (room for 2n + 1). */
static char *spell(const char *s, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int cp = byte_cp((unsigned char)s[i]);
		if (cp < 0x80) {
			out[k++] = (char)cp;
		} else {
			out[k++] = (char)(0xc0 | (cp >> 6));
			out[k++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[k] = '\0';
	return out;
}

/* vocab.json: the 256 byte tokens (id = byte), <s> <pad> </s> <unk>
 * <mask> (256..260, unless no_specials), then extra (in the alphabet). */
static char *make_vocab(const char *const *extra, size_t n_extra, int no_specials)
{
	static const char *const specials[] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
	json_t *o = json_object();
	char key[8];
	int id = 0;
	for (int b = 0; b < 256; b++) {
		char c = (char)b;
		json_object_set_new(o, spell(&c, 1, key), json_integer(id++));
	}
	for (size_t i = 0; i < 5 && !no_specials; i++)
		json_object_set_new(o, specials[i], json_integer(id++));
	for (size_t i = 0; i < n_extra; i++)
		if (json_object_get(o, extra[i]) == NULL)
			json_object_set_new(o, extra[i], json_integer(id++));
	char *s = json_dumps(o, 0);
	json_decref(o);
	return s;
}

static struct tokenizer *make_full(const char *const *extra, size_t n_extra, const char *merges,
                                   int add_prefix_space, int no_specials)
{
	char *v = make_vocab(extra, n_extra, no_specials), err[256] = "";
	struct bpe_opts o = {add_prefix_space};
	struct tokenizer *t = NULL;
	int rc =
	    bpe_create_from_json(v, strlen(v), merges, strlen(merges), &o, &t, err, sizeof(err));
	ck_assert_msg(rc == 0, "bpe_create: %s", err);
	free(v);
	return t;
}

static struct tokenizer *make(const char *const *extra, size_t n_extra, const char *merges)
{
	return make_full(extra, n_extra, merges, 0, 0);
}

/* Encodes without the template; the pieces' token strings joined by ' '. */
static const char *toks(const struct tokenizer *t, const char *text, size_t n, struct encoding *e)
{
	static char buf[8192];
	char err[256] = "";
	struct encode_opts o = {0, 0, 1, TRUNCATION_RIGHT};
	int rc = tokenizer_encode(t, text, n, NULL, 0, &o, e, err, sizeof(err));
	ck_assert_msg(rc == 0, "encode: %s", err);
	buf[0] = '\0';
	for (int32_t i = 0; i < e->n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, tokenizer_id_to_token(t, e->ids[i]));
	}
	return buf;
}

/* --- pre-tokenisation ------------------------------------------------- */

/* Text, and its pre-tokens joined by '|' (regex.findall of the pattern). */
static const char *const pretok_cases[][2] = {
    {"Hello world", "Hello| world"},
    {"don't I'M it's'll 've", "don|'t| I|'|M| it|'s|'ll| '|ve"}, /* lower case only */
    {"a  b", "a| | b"},
    {"a   ", "a|   "}, /* a run at the end stays whole */
    {"\t\tx", "\t|\t|x"},
    {"x2023y 2023", "x|2023|y| 2023"},
    {"$3.50", "$|3|.|50"},
    {"!!! ?", "!!!| ?"},
    {" \xc3\xa9\xe4\xb8\xad\xe6\x96\x87x", " \xc3\xa9\xe4\xb8\xad\xe6\x96\x87x"}, /* " é中文x" */
    {"a\xcc\x81"
     "b",
     "a|\xcc\x81|b"},                                       /* a U+0301 b */
    {"x\xc2\xbd \xe2\x85\xa2", "x|\xc2\xbd| \xe2\x85\xa2"}, /* x½ Ⅲ */
    {"\xc2\xa0x", "\xc2\xa0|x"}, /* NBSP is \s but not the optional " " */
    {"a\x1c"
     "b",
     "a|\x1c|b"}, /* \x1c: str.isspace() but not \s */
    {"  \n", "  \n"},
    {"a \n b", "a| \n| b"},
    {"'''s", "'''|s"},
    {" 's", " '|s"},
    {"hi!\n\nthere", "hi|!|\n|\n|there"},
    {"\xe3\x80\x80\xe3\x80\x80x", "\xe3\x80\x80|\xe3\x80\x80|x"}, /* U+3000 */
    {"a\xe2\x80\xa8 b", "a|\xe2\x80\xa8| b"},                     /* U+2028 */
    {"A's ''d", "A|'s| ''|d"},
};

/* merges.txt in which every split of every substring of text merges, so a
 * pre-token always ends as one piece: the pieces are the pre-tokens. */
static char *all_merges(const char *text)
{
	size_t n = strlen(text), cap = 4096, k;
	char *m = malloc(cap), a[256], b[256];
	ck_assert_ptr_nonnull(m);
	k = (size_t)snprintf(m, cap, "#version: 0.2\n");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 2; j <= n; j++)
			for (size_t c = i + 1; c < j; c++) {
				spell(text + i, c - i, a);
				spell(text + c, j - c, b);
				while (k + strlen(a) + strlen(b) + 3 > cap) {
					m = realloc(m, cap *= 2);
					ck_assert_ptr_nonnull(m);
				}
				k += (size_t)snprintf(m + k, cap - k, "%s %s\n", a, b);
			}
	return m;
}

START_TEST(test_pretokenize)
{
	const char *text = pretok_cases[_i][0], *want = pretok_cases[_i][1];
	char *merges = all_merges(text), got[512];
	struct tokenizer *t = make(NULL, 0, merges);
	struct encoding e;
	size_t k = 0;
	encoding_init(&e);
	toks(t, text, strlen(text), &e);
	for (int32_t i = 0; i < e.n; i++) {
		k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%.*s", i ? "|" : "",
		                      e.stops[i] - e.starts[i], text + e.starts[i]);
		ck_assert_int_eq(e.starts[i], i ? e.stops[i - 1] : 0);
	}
	ck_assert_msg(strcmp(got, want) == 0, "\"%s\": got \"%s\", want \"%s\"", text, got, want);
	encoding_dispose(&e);
	tokenizer_destroy(t);
	free(merges);
}
END_TEST

/* --- bytes, offsets, merges ------------------------------------------- */

START_TEST(test_bytes_and_offsets)
{
	struct tokenizer *t = make(NULL, 0, "#version: 0.2\n");
	struct encoding e;
	encoding_init(&e);
	/* "é" is C3 A9: one piece per byte, each with its own byte. */
	ck_assert_str_eq(toks(t, "\xc3\xa9", 2, &e), "\xc3\x83 \xc2\xa9"); /* Ã © */
	ck_assert_int_eq(e.starts[0], 0);
	ck_assert_int_eq(e.stops[0], 1);
	ck_assert_int_eq(e.starts[1], 1);
	ck_assert_int_eq(e.stops[1], 2);
	ck_assert_int_eq(e.ids[0], 0xc3); /* the byte tokens have id = byte */
	/* A 4-byte emoji, a NUL and a space: bytes 0 and 32 are U+0100, U+0120. */
	ck_assert_str_eq(toks(t, "\xf0\x9f\x8d\x95\0 x", 7, &e),
	                 "\xc3\xb0 \xc5\x81 \xc4\xaf \xc4\xb7 \xc4\x80 \xc4\xa0 x");
	ck_assert_int_eq(e.n, 7);
	for (int32_t i = 0; i < e.n; i++)
		ck_assert_int_eq(e.stops[i] - e.starts[i], 1);
	/* Invalid UTF-8 is refused before any piece. */
	char err[256];
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	ck_assert_int_eq(tokenizer_encode(t, "\xc3", 1, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_merge_priority)
{
	static const char *const extra[] = {"ab", "bc", "abc", "aa", "Ġab"};
	struct encoding e;
	encoding_init(&e);
	struct tokenizer *t = make(extra, 5, "#version: 0.2\na b\nb c\n");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "ab c"); /* (a b) ranks first */
	ck_assert_int_eq(e.stops[0], 2);
	tokenizer_destroy(t);
	t = make(extra, 5, "#version: 0.2\nb c\na b\n");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "a bc");
	ck_assert_int_eq(e.starts[1], 1);
	ck_assert_int_eq(e.stops[1], 3);
	tokenizer_destroy(t);
	/* A pair listed twice takes its later rank (a dict of the lines). */
	t = make(extra, 5, "#version: 0.2\na b\nb c\na b\n");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "a bc");
	tokenizer_destroy(t);
	/* All occurrences merge left to right: "aaa" -> "aa" "a". */
	t = make(extra, 5, "#version: 0.2\na a\n");
	ck_assert_str_eq(toks(t, "aaaaa", 5, &e), "aa aa a");
	tokenizer_destroy(t);
	/* Merges go on as long as one applies; a result missing from the
	 * vocabulary is <unk>. */
	t = make(extra, 5, "#version: 0.2\na b\nĠ ab\nab c\nc c\n");
	ck_assert_str_eq(toks(t, " abc ab", 7, &e), "Ġab c Ġab");
	ck_assert_str_eq(toks(t, "cc", 2, &e), "<unk>");
	ck_assert_int_eq(e.ids[0], t->unk_id);
	tokenizer_destroy(t);
	/* The header line is skipped whatever it says, and so is a last line
	 * without a newline (the reference's split("\n")[1:-1]). */
	t = make(extra, 5, "a b\nb c\n");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "a bc");
	tokenizer_destroy(t);
	t = make(extra, 5, "#version: 0.2\nb c\na b");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "a bc");
	tokenizer_destroy(t);
	/* Blank lines keep their rank; CRLF and CR end lines too. */
	t = make(extra, 5, "#version\r\n\r\nb c\ra b\r\n");
	ck_assert_str_eq(toks(t, "abc", 3, &e), "a bc");
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_long_word)
{
	/* One 1 MB pre-token: the merge queue keeps this O(n log n). */
	static const char *const extra[] = {"aa", "aaaa", "aaaaaaaa"};
	struct tokenizer *t = make(extra, 3, "#version: 0.2\na a\naa aa\naaaa aaaa\n");
	size_t n = 1 << 20;
	char *text = malloc(n), err[256];
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	memset(text, 'a', n);
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, n, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, (int32_t)(n / 8) + 2);
	ck_assert_str_eq(tokenizer_id_to_token(t, e.ids[1]), "aaaaaaaa");
	ck_assert_int_eq(e.starts[e.n - 2], (int32_t)n - 8);
	encoding_dispose(&e);
	free(text);
	tokenizer_destroy(t);
}
END_TEST

/* --- special tokens, prefix space, template --------------------------- */

START_TEST(test_special_tokens_in_text)
{
	static const char *const extra[] = {"Ġa", "Ġb"};
	struct tokenizer *t = make(extra, 2, "#version: 0.2\nĠ a\nĠ b\n");
	struct encoding e;
	encoding_init(&e);
	/* <s> strips nothing; <mask> eats the spaces before it only. */
	ck_assert_str_eq(toks(t, "a <s> b  <mask> a<mask>b", 24, &e),
	                 "a Ġ <s> Ġb <mask> Ġa <mask> b");
	ck_assert_int_eq(e.ids[2], t->cls_id);
	ck_assert_int_eq(e.starts[2], 2);
	ck_assert_int_eq(e.stops[2], 5);
	ck_assert_int_eq(e.ids[4], t->mask_id);
	ck_assert_int_eq(e.starts[4], 9);  /* its own bytes, not the eaten spaces */
	ck_assert_int_eq(e.special[4], 0); /* part of the text, not the template */
	ck_assert_str_eq(toks(t, "<s><mask></s>", 13, &e), "<s> <mask> </s>");
	ck_assert_str_eq(toks(t, "<s <ma", 6, &e), "< s Ġ < m a");
	/* Longest match first; a plain-string special strips both sides. */
	tokenizer_clear_specials(t);
	ck_assert_int_eq(tokenizer_add_special(t, "<s>", 3, t->cls_id, 1, 1), 0);
	ck_assert_int_eq(tokenizer_add_special(t, "<s>a", 4, t->unk_id, 0, 1), 0);
	ck_assert_int_eq(tokenizer_add_special(t, "", 0, 5, 0, 0), STATUS_EINVAL);
	ck_assert_str_eq(toks(t, "b <s>  a <s>a  b", 16, &e), "b <s> a Ġ <unk> b");
	ck_assert_str_eq(toks(t, "  <s>  ", 7, &e), "<s>");
	ck_assert(tokenizer_is_special_id(t, t->cls_id));
	ck_assert(!tokenizer_is_special_id(t, 'a'));
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_add_prefix_space)
{
	static const char *const extra[] = {"Ġa", "Ġab"};
	struct tokenizer *t = make_full(extra, 2, "#version: 0.2\nĠ a\nĠa b\n", 1, 0);
	struct encoding e;
	encoding_init(&e);
	ck_assert_str_eq(toks(t, "ab", 2, &e), "Ġab"); /* as " ab" */
	ck_assert_int_eq(e.starts[0], 0);
	ck_assert_int_eq(e.stops[0], 2);
	ck_assert_str_eq(toks(t, "\tab", 3, &e), "ĉ a b"); /* starts with whitespace */
	ck_assert_str_eq(toks(t, "", 0, &e), "");
	/* " " goes before the text, before the special tokens are split
	 * out: it stays alone before <s>, and <mask> (lstrip) eats it. */
	ck_assert_str_eq(toks(t, "<s>ab", 5, &e), "Ġ <s> a b");
	ck_assert_int_eq(e.starts[0], 0);
	ck_assert_int_eq(e.stops[0], 0);
	ck_assert_str_eq(toks(t, "<mask>ab", 8, &e), "<mask> a b");
	ck_assert_str_eq(toks(t, "ab<s>ab", 7, &e), "Ġab <s> a b");
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_template_and_truncation)
{
	static const char *const extra[] = {"Ġa"};
	struct tokenizer *t = make(extra, 1, "#version: 0.2\nĠ a\n");
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[256];
	encoding_init(&e);
	ck_assert_int_eq(t->template_kind, TEMPLATE_ROBERTA);
	ck_assert_str_eq(t->ops->name, "bpe");
	ck_assert_int_eq(tokenizer_encode(t, "b a", 3, "c", 1, &o, &e, err, sizeof(err)), 0);
	const int32_t want[] = {256, 'b', 261, 258, 258, 'c', 258}; /* <s> b Ġa </s></s> c </s> */
	ck_assert_int_eq(e.n, 7);
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(e.ids[i], want[i]);
		ck_assert_int_eq(e.type_ids[i], 0);
	}
	ck_assert_int_eq(e.seq[5], 1);
	ck_assert(e.special[3] && e.special[4] && !e.special[5]);
	ck_assert_int_eq(e.n_untruncated, 7);

	/* 4 specials for a pair: longest first, ties from the pair. */
	o.max_length = 6;
	ck_assert_int_eq(tokenizer_encode(t, "xyz", 3, "uvw", 3, &o, &e, err, sizeof(err)), 0);
	const int32_t cut[] = {256, 'x', 258, 258, 'u', 258};
	ck_assert_int_eq(e.n, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(e.ids[i], cut[i]);
	ck_assert(e.truncated);
	ck_assert_int_eq(e.n_untruncated, 10);
	o.max_length = 3;
	ck_assert_int_eq(tokenizer_encode(t, "x", 1, "u", 1, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	ck_assert_int_eq(tokenizer_encode(t, "xyz", 3, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 3);
	ck_assert_int_eq(e.ids[2], 258);
	o.truncate = 0;
	ck_assert_int_eq(tokenizer_encode(t, "xyz", 3, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_ETOOLONG);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_no_unk)
{
	/* Without <unk>, a piece missing from the vocabulary cannot encode. */
	static const char *const extra[] = {"<s>", "</s>"};
	struct tokenizer *t = make_full(extra, 2, "#version: 0.2\na b\n", 0, 1);
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[256];
	encoding_init(&e);
	ck_assert_int_eq(t->unk_id, -1);
	ck_assert_int_eq(tokenizer_encode(t, "xy", 2, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(tokenizer_encode(t, "ab", 2, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_ETOKENIZER);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

/* --- decode ----------------------------------------------------------- */

START_TEST(test_decode)
{
	static const char *const extra[] = {"Ġa", "Ġworld", "Ã©"};
	struct tokenizer *t = make(extra, 3, "#version: 0.2\nĠ a\nÃ ©\n");
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char out[256], err[256];
	const char *text = "caf\xc3\xa9 \xf0\x9f\x8d\x95 a\tb\n<mask> x";
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, err, sizeof(err)),
	                 0);
	/* <mask> ate the "\n" before it; skip_special_tokens drops it too. */
	ck_assert_int_eq(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err)), 16);
	ck_assert_str_eq(out, "caf\xc3\xa9 \xf0\x9f\x8d\x95 a\tb x");
	ck_assert_int_eq(
	    tokenizer_decode(t, e.ids, (size_t)e.n, 0, out, sizeof(out), err, sizeof(err)), 29);
	ck_assert_str_eq(out, "<s>caf\xc3\xa9 \xf0\x9f\x8d\x95 a\tb<mask> x</s>");

	/* Bytes that are not UTF-8 become U+FFFD, one per maximal bad run. */
	const int32_t bad[] = {'a', 0xc3, 0xf0, 0x9f, 'b', 0xed, 0xa0, 0x80, 0xff};
	ck_assert_int_eq(tokenizer_decode(t, bad, 9, 0, out, sizeof(out), err, sizeof(err)), 20);
	ck_assert_str_eq(out, "a\xef\xbf\xbd\xef\xbf\xbd"
	                      "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* clean_up_tokenization, as BERT's. */
	const int32_t sp[] = {'a', ' ', ',', ' ', 'n', '\'', 't', ' ', '.'}; /* "a , n't ." */
	ck_assert_int_eq(tokenizer_decode(t, sp, 9, 0, out, sizeof(out), err, sizeof(err)), 6);
	ck_assert_str_eq(out, "a,n't.");
	/* Truncated output, length needed, and a bad id. */
	ck_assert_int_eq(tokenizer_decode(t, sp, 9, 0, out, 3, err, sizeof(err)), 6);
	ck_assert_str_eq(out, "a,");
	const int32_t oob[] = {'a', 100000};
	ck_assert_int_eq(tokenizer_decode(t, oob, 2, 0, out, sizeof(out), err, sizeof(err)),
	                 STATUS_EINVAL);
	ck_assert_str_eq(out, "");
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

/* --- malformed files -------------------------------------------------- */

static int create_err(const char *vocab, const char *merges, char *err, size_t n_err)
{
	struct tokenizer *t = NULL;
	int rc = bpe_create_from_json(vocab, strlen(vocab), merges, strlen(merges), NULL, &t, err,
	                              n_err);
	if (rc == 0)
		tokenizer_destroy(t);
	return rc;
}

START_TEST(test_malformed)
{
	static const char *const bad_vocab[][2] = {
	    {"{\"a\": 0,\n \"b\": }", "vocab.json: line 2"},
	    {"[\"a\"]", "object"},
	    {"{}", "object"},
	    {"", "vocab.json: line"},
	    {"{\"a\": 0, \"b\": 1.5}", "\"b\""},
	    {"{\"a\": 0, \"b\": \"1\"}", "\"b\""},
	    {"{\"a\": -1}", "\"a\""},
	    {"{\"a\": 0, \"b\": 0}", "each once"},
	    {"{\"a\": 0, \"b\": 2}", "0..1"},
	};
	static const char *const bad_merges[][2] = {
	    {"#version: 0.2\na b\na b c\n", "merges.txt: line 3"},
	    {"#version: 0.2\nab\n", "merges.txt: line 2"},
	    {"#version: 0.2\na b\n\xc3(\n", "merges.txt: line 3 is not valid UTF-8"},
	};
	char err[256];
	for (size_t i = 0; i < sizeof(bad_vocab) / sizeof(bad_vocab[0]); i++) {
		ck_assert_int_eq(create_err(bad_vocab[i][0], "", err, sizeof(err)), STATUS_EFORMAT);
		ck_assert_msg(strstr(err, bad_vocab[i][1]) != NULL, "case %zu: %s", i, err);
	}
	for (size_t i = 0; i < sizeof(bad_merges) / sizeof(bad_merges[0]); i++) {
		ck_assert_int_eq(create_err("{\"a\": 0}", bad_merges[i][0], err, sizeof(err)),
		                 STATUS_EFORMAT);
		ck_assert_msg(strstr(err, bad_merges[i][1]) != NULL, "case %zu: %s", i, err);
	}
	/* Fine: empty merges.txt, a header only, a merge of characters outside
	 * the byte alphabet (never applies), a short buffer without NUL. */
	ck_assert_int_eq(create_err("{\"a\": 0}", "", err, sizeof(err)), 0);
	ck_assert_int_eq(create_err("{\"a\": 0}", "#version: 0.2", err, sizeof(err)), 0);
	ck_assert_int_eq(create_err("{\"a\": 0}", "#v\n\xe4\xb8\xad a\n", err, sizeof(err)), 0);
	struct tokenizer *t = NULL;
	ck_assert_int_eq(
	    bpe_create_from_json("{\"a\": 0}xx", 8, "#v\na b\nzz", 7, NULL, &t, err, sizeof(err)),
	    0);
	tokenizer_destroy(t);
}
END_TEST

/* --- allocation failures --------------------------------------------- */

#ifdef HAVE_ALLOC_FAILURES

/* Each call fails its k-th allocation, k = 0, 1, ... until one succeeds:
 * every failure is reported as such, nothing crashes or leaks (under the
 * sanitizer build, where this test is off, the other tests cover leaks),
 * and the result is right. */
START_TEST(test_alloc_failures)
{
	static const char *const extra[] = {"Ġa", "Ġab"};
	char *v = make_vocab(extra, 2, 0), err[256], out[64];
	const char *merges = "#version: 0.2\nĠ a\nĠa b\n";
	struct tokenizer *t = NULL;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	int rc;
	long k;

	for (k = 0;; k++) {
		alloc_left = k;
		rc = bpe_create_from_json(v, strlen(v), merges, strlen(merges), NULL, &t, err,
		                          sizeof(err));
		alloc_left = -1;
		if (rc == 0)
			break;
		ck_assert_msg(alloc_rc_ok(rc, err), "bpe_create, failure %ld: %s", k, err);
	}
	ck_assert_int_gt(k, 5);
	for (k = 0;; k++) {
		encoding_init(&e);
		alloc_left = k;
		rc = tokenizer_encode(t, "ab <mask> \xc3\xa9", 12, "ab", 2, &o, &e, err,
		                      sizeof(err));
		alloc_left = -1;
		if (rc == 0)
			break;
		ck_assert_msg(rc == STATUS_ENOMEM, "encode, failure %ld: %s", k, err);
		encoding_dispose(&e);
	}
	ck_assert_int_eq(e.n, 12); /* <s> a b <mask> Ġ Ã © </s></s> a b </s> */
	for (k = 0;; k++) {
		alloc_left = k;
		rc = tokenizer_decode(t, e.ids, (size_t)e.n, 1, out, sizeof(out), err, sizeof(err));
		alloc_left = -1;
		if (rc >= 0)
			break;
		ck_assert_msg(rc == STATUS_ENOMEM, "decode, failure %ld: %s", k, err);
	}
	ck_assert_str_eq(out, "ab \xc3\xa9"
	                      "ab");
	encoding_dispose(&e);
	tokenizer_destroy(t);
	free(v);

	/* The whole folder's classic files through tokenizer_load_from
	 * (test_tokenizer_json.c does its tokenizer.json). */
	for (k = 0;; k++) {
		alloc_left = k;
		rc = tokenizer_load_from(fixture_path("roberta"), TOKENIZER_SOURCE_CLASSIC, &t, err,
		                         sizeof(err));
		alloc_left = -1;
		if (rc == 0)
			break;
		ck_assert_msg(alloc_rc_ok(rc, err), "tokenizer_load, failure %ld: %s", k, err);
	}
	ck_assert_int_eq(t->mask_id, 560);
	tokenizer_destroy(t);
}
END_TEST
#endif

/* --- threads ---------------------------------------------------------- */

struct thread_arg {
	const struct tokenizer *t;
	const char *text;
	int32_t ids[64];
	int32_t n;
	int ok;
};

static void *encode_many(void *p)
{
	struct thread_arg *a = p;
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[256];
	encoding_init(&e);
	a->ok = 1;
	for (int k = 0; k < 2000 && a->ok; k++) {
		a->ok = tokenizer_encode(a->t, a->text, strlen(a->text), NULL, 0, &o, &e, err,
		                         sizeof(err)) == 0 &&
		        e.n == a->n && memcmp(e.ids, a->ids, (size_t)e.n * sizeof(*e.ids)) == 0;
	}
	encoding_dispose(&e);
	return NULL;
}

START_TEST(test_threads)
{
	static const char *const extra[] = {"Ġa", "Ġab", "Ġabc"};
	struct tokenizer *t = make(extra, 3, "#version: 0.2\nĠ a\nĠa b\nĠab c\n");
	struct thread_arg args[4];
	pthread_t th[4];
	struct encoding e;
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	char err[256];
	encoding_init(&e);
	for (int i = 0; i < 4; i++) {
		args[i].t = t;
		args[i].text = i % 2 ? "x abc ab a <mask> abcd" : "\xc3\xa9 abc\n\n abc";
		ck_assert_int_eq(tokenizer_encode(t, args[i].text, strlen(args[i].text), NULL, 0,
		                                  &o, &e, err, sizeof(err)),
		                 0);
		args[i].n = e.n;
		memcpy(args[i].ids, e.ids, (size_t)e.n * sizeof(*e.ids));
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, encode_many, &args[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert(args[i].ok);
	}
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

static Suite *bpe_suite(void)
{
	Suite *s = suite_create("bpe");
	TCase *tc = tcase_create("bpe");
	tcase_add_loop_test(tc, test_pretokenize, 0,
	                    (int)(sizeof(pretok_cases) / sizeof(pretok_cases[0])));
	tcase_add_test(tc, test_bytes_and_offsets);
	tcase_add_test(tc, test_merge_priority);
	tcase_add_test(tc, test_long_word);
	tcase_add_test(tc, test_special_tokens_in_text);
	tcase_add_test(tc, test_add_prefix_space);
	tcase_add_test(tc, test_template_and_truncation);
	tcase_add_test(tc, test_no_unk);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_threads);
#ifdef HAVE_ALLOC_FAILURES
	tcase_add_test(tc, test_alloc_failures);
#endif
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(bpe_suite());
}
