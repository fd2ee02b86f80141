/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/tokenizer.c and core/wordpiece.c on hand-made
 * vocabularies: BasicTokenizer and WordPiece behaviour (mostly the cases of
 * transformers' own tests/models/bert/test_tokenization_bert.py), byte
 * offsets, special tokens in the text, templates, truncation, decoding,
 * UTF-8 validation, the vocabulary hash and thread safety.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "status.h"
#include "test_util.h"
#include "tokenizer.h"
#include "wordpiece.h"

static const char *const base_vocab[] = {
    "[PAD]", "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed",  "wa",    "un",
    "runn",  "##ing",  ",",     "!",     "?",      ".",    "'",      "t",     "s",     "don",
    "it",    "hello",  "world", "how",   "are",    "you",  "hällo",  "héllo", "HeLLo", "Are",
    "yoU",   "HaLLo",  "ah",    "博",    "推",     "zz",   "cafe",   "café",  "naive", "a",
    "b",     "c",      "d",     "e",     "x",      "y",    "<x>",    "##b",   "##c",   "<",
    ">",     "[CLS]x", "i̇",     "i",     "##̇",
};

static struct tokenizer *make_with(const struct wordpiece_opts *o)
{
	struct vocab v = {0};
	struct tokenizer *t = NULL;
	char err[256] = "";
	for (size_t i = 0; i < sizeof(base_vocab) / sizeof(base_vocab[0]); i++)
		ck_assert_int_eq(vocab_add(&v, base_vocab[i], strlen(base_vocab[i])), 0);
	ck_assert_msg(wordpiece_create(&v, o, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(v.n_tokens, 0); /* ownership moved */
	return t;
}

static struct tokenizer *make(int lower, int strip)
{
	struct wordpiece_opts o = {lower, strip, 1, 100, NULL, 0};
	return make_with(&o);
}

/* Encodes text without specials and joins the token strings with ' '. */
static const char *toks(const struct tokenizer *t, const char *text, struct encoding *e)
{
	static char buf[4096];
	char err[256] = "";
	struct encode_opts o = {0, 0, 1, TRUNCATION_RIGHT};
	int rc = tokenizer_encode(t, text, strlen(text), NULL, 0, &o, e, err, sizeof(err));
	ck_assert_msg(rc == 0, "encode %s: %s", text, err);
	buf[0] = '\0';
	for (int32_t i = 0; i < e->n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, tokenizer_id_to_token(t, e->ids[i]));
	}
	return buf;
}

#define ASSERT_TOKS(t, text, want)                                                                 \
	do {                                                                                       \
		struct encoding e_;                                                                \
		encoding_init(&e_);                                                                \
		ck_assert_str_eq(toks((t), (text), &e_), (want));                                  \
		encoding_dispose(&e_);                                                             \
	} while (0)

static void assert_span(const struct encoding *e, int i, int start, int stop)
{
	ck_assert_msg(e->starts[i] == start && e->stops[i] == stop,
	              "token %d: [%d,%d) want [%d,%d)", i, e->starts[i], e->stops[i], start, stop);
}

START_TEST(test_utf8_valid)
{
	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid("plain ascii", 11));
	ck_assert(utf8_valid("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", 14));
	ck_assert(utf8_valid("a\0b", 3));              /* NUL is valid UTF-8 */
	ck_assert(utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	ck_assert(!utf8_valid("\x80", 1));             /* lone continuation */
	ck_assert(!utf8_valid("\xc0\x80", 2));         /* overlong NUL */
	ck_assert(!utf8_valid("\xc1\xbf", 2));         /* overlong */
	ck_assert(!utf8_valid("\xe0\x80\xaf", 3));     /* overlong '/' */
	ck_assert(!utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate D800 */
	ck_assert(!utf8_valid("\xed\xbf\xbf", 3));     /* surrogate DFFF */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	ck_assert(!utf8_valid("\xf5\x80\x80\x80", 4));
	ck_assert(!utf8_valid("\xff", 1));
	ck_assert(!utf8_valid("\xc3", 1));     /* truncated */
	ck_assert(!utf8_valid("\xe4\xb8", 2)); /* truncated */
	ck_assert(!utf8_valid("ab\xe4\xb8", 4));
	ck_assert(!utf8_valid("\xc3\x28", 2));    /* bad continuation */
	ck_assert(utf8_valid("\xc3\xa9\xc3", 2)); /* n bounds the check */
}
END_TEST

START_TEST(test_vocab)
{
	struct vocab v = {0};
	char name[32];
	ck_assert_int_eq(vocab_find(&v, "a", 1), -1); /* empty */
	ck_assert_int_eq(vocab_add(&v, "a", 1), 0);
	ck_assert_int_eq(vocab_add(&v, "ab", 2), 0);
	ck_assert_int_eq(vocab_add(&v, "", 0), 0);
	ck_assert_int_eq(vocab_add(&v, "a", 1), 0); /* duplicate: last id wins */
	ck_assert_int_eq(vocab_add(&v, "x\0y", 3), STATUS_EINVAL);
	ck_assert_int_eq(v.n_tokens, 4);
	ck_assert_int_eq(vocab_find(&v, "a", 1), 3);
	ck_assert_str_eq(v.tokens[0], "a");
	ck_assert_int_eq(vocab_find(&v, "ab", 2), 1);
	ck_assert_int_eq(vocab_find(&v, "abc", 2), 1); /* length counts, not NUL */
	ck_assert_int_eq(vocab_find(&v, "", 0), 2);
	ck_assert_int_eq(vocab_find(&v, "abc", 3), -1);
	ck_assert_int_eq(vocab_find(&v, "a\0", 2), -1);
	for (int i = 0; i < 20000; i++) {
		int k = snprintf(name, sizeof(name), "tok%d", i);
		ck_assert_int_eq(vocab_add(&v, name, (size_t)k), 0);
	}
	ck_assert_uint_eq(v.n_slots & (v.n_slots - 1), 0);
	ck_assert_uint_ge(v.n_slots, 2u * (uint32_t)v.n_tokens);
	for (int i = 0; i < 20000; i++) {
		int k = snprintf(name, sizeof(name), "tok%d", i);
		ck_assert_int_eq(vocab_find(&v, name, (size_t)k), 4 + i);
	}
	ck_assert_int_eq(vocab_find(&v, "a", 1), 3);
	vocab_dispose(&v);
	ck_assert_int_eq(v.n_tokens, 0);
	vocab_dispose(&v); /* twice is fine */
}
END_TEST

START_TEST(test_wordpiece_greedy)
{
	struct tokenizer *t = make(1, -1);
	ASSERT_TOKS(t, "", "");
	ASSERT_TOKS(t, "unwanted running", "un ##want ##ed runn ##ing");
	ASSERT_TOKS(t, "unwantedX running", "[UNK] runn ##ing");
	ASSERT_TOKS(t, "bcc", "b ##c ##c");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_basic_lower)
{
	struct tokenizer *t = make(1, -1);
	ASSERT_TOKS(t, " \tHeLLo!how  \n Are yoU?  ", "hello ! how are you ?");
	ASSERT_TOKS(t, "H\xc3\xa9llo", "hello");
	ASSERT_TOKS(t, "He\xcc\x81llo", "hello"); /* NFD input */
	ASSERT_TOKS(t, "don't", "don ' t");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_basic_lower_keep_accents)
{
	struct tokenizer *t = make(1, 0);
	ASSERT_TOKS(t, " \tH\xc3\xa4LLo!how  \n Are yoU?  ", "h\xc3\xa4llo ! how are you ?");
	ASSERT_TOKS(t, "H\xc3\xa9llo", "h\xc3\xa9llo");
	ASSERT_TOKS(t, "He\xcc\x81llo", "h\xc3\xa9llo"); /* NFC composes it */
	/* Python's "İ".lower() is "i̇" (two code points); so is ours. */
	ASSERT_TOKS(t, "\xc4\xb0", "i\xcc\x87");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_basic_no_lower)
{
	struct tokenizer *t = make(0, -1);
	ASSERT_TOKS(t, " \tHeLLo!how  \n Are yoU?  ", "HeLLo ! how Are yoU ?");
	ASSERT_TOKS(t, "caf\xc3\xa9 cafe\xcc\x81", "caf\xc3\xa9 caf\xc3\xa9");
	tokenizer_destroy(t);
	t = make(0, 1);
	ASSERT_TOKS(t, " \tH\xc3\xa4LLo!how  \n Are yoU?  ", "HaLLo ! how Are yoU ?");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_chinese_and_whitespace)
{
	struct tokenizer *t = make(1, -1);
	ASSERT_TOKS(t, "ah\xe5\x8d\x9a\xe6\x8e\xa8zz", "ah \xe5\x8d\x9a \xe6\x8e\xa8 zz");
	/* NBSP, ideographic space, line separator split; ZWSP, BOM, NUL,
	 * U+FFFD and C0/C1 controls vanish and so join their neighbours. */
	ASSERT_TOKS(t,
	            "a\xc2\xa0"
	            "b\xe3\x80\x80"
	            "c\xe2\x80\xa8"
	            "d",
	            "a b c d");
	ASSERT_TOKS(t,
	            "w\xe2\x80\x8b"
	            "a\xef\xbb\xbf"
	            "nt",
	            "want");
	ASSERT_TOKS(t,
	            "w\x01"
	            "a\x7f"
	            "n\xef\xbf\xbd"
	            "t",
	            "want");
	tokenizer_destroy(t);
	struct wordpiece_opts o = {1, -1, 0, 100, NULL, 0};
	t = make_with(&o); /* tokenize_chinese_chars = false */
	ASSERT_TOKS(t, "ah\xe5\x8d\x9a\xe6\x8e\xa8zz", "[UNK]");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_too_long_word)
{
	struct wordpiece_opts o = {1, -1, 1, 5, NULL, 0};
	struct tokenizer *t = make_with(&o);
	struct encoding e;
	encoding_init(&e);
	ck_assert_str_eq(toks(t, "bcccc bccccc", &e), "b ##c ##c ##c ##c [UNK]");
	assert_span(&e, 5, 6, 12);
	ck_assert_str_eq(toks(t, "bcccc,bccccc", &e), "b ##c ##c ##c ##c , [UNK]");
	/* The limit counts code points after accent stripping: 10 in, 5 out. */
	ck_assert_str_eq(toks(t,
	                      "b\xcc\x81"
	                      "c\xcc\x81"
	                      "c\xcc\x81"
	                      "c\xcc\x81"
	                      "c\xcc\x81",
	                      &e),
	                 "b ##c ##c ##c ##c");
	assert_span(&e, 0, 0, 3);
	assert_span(&e, 4, 12, 15);
	ck_assert_str_eq(toks(t, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", &e), "[UNK]");
	assert_span(&e, 0, 0, 12);
	encoding_dispose(&e);
	tokenizer_destroy(t);
	o.max_input_chars_per_word = 100000;
	struct vocab v = {0};
	char err[128];
	ck_assert_int_eq(vocab_add(&v, "[UNK]", 5), 0);
	ck_assert_int_eq(wordpiece_create(&v, &o, &t, err, sizeof(err)), STATUS_EINVAL);
	ck_assert_int_eq(v.n_tokens, 0); /* freed on failure too */
}
END_TEST

START_TEST(test_offsets)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	encoding_init(&e);
	ck_assert_str_eq(toks(t, "Hello, world!", &e), "hello , world !");
	assert_span(&e, 0, 0, 5);
	assert_span(&e, 1, 5, 6);
	assert_span(&e, 2, 7, 12);
	assert_span(&e, 3, 12, 13);
	ck_assert_str_eq(toks(t, " unwanted", &e), "un ##want ##ed");
	assert_span(&e, 0, 1, 3);
	assert_span(&e, 1, 3, 7);
	assert_span(&e, 2, 7, 9);
	/* A stripped accent stays in its base character's span. */
	ck_assert_str_eq(toks(t, "cafe\xcc\x81 caf\xc3\xa9!", &e), "cafe cafe !");
	assert_span(&e, 0, 0, 6);
	assert_span(&e, 1, 7, 12);
	assert_span(&e, 2, 12, 13);
	ck_assert_str_eq(toks(t, "!\xcc\x81x", &e), "! x");
	assert_span(&e, 0, 0, 3);
	assert_span(&e, 1, 3, 4);
	/* Dropped characters inside a word belong to no piece. */
	ck_assert_str_eq(toks(t,
	                      "w\xe2\x80\x8b"
	                      "ant",
	                      &e),
	                 "want");
	assert_span(&e, 0, 0, 7);
	ck_assert_str_eq(toks(t, "\xe5\x8d\x9a\xe6\x8e\xa8", &e), "\xe5\x8d\x9a \xe6\x8e\xa8");
	assert_span(&e, 0, 0, 3);
	assert_span(&e, 1, 3, 6);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_special_tokens_in_text)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	encoding_init(&e);
	/* Split out before lower-casing, matched case-sensitively. */
	ck_assert_str_eq(toks(t, "Hello [MASK]world[SEP]", &e), "hello [MASK] world [SEP]");
	assert_span(&e, 1, 6, 12);
	assert_span(&e, 2, 12, 17);
	assert_span(&e, 3, 17, 22);
	ck_assert_int_eq(e.special[1], 0); /* text, not template */
	ck_assert_int_eq(e.seq[1], 0);
	ck_assert_str_eq(toks(t, "[mask]", &e), "[UNK] [UNK] [UNK]");
	/* Longest match: "[CLS]x" is not a special token, "[CLS]" is. */
	ck_assert_str_eq(toks(t, "[CLS]x", &e), "[CLS] x");
	/* The reference lower-cases the text first, so a special spelled
	 * with a removed control character inside is no longer one. */
	ck_assert_str_eq(toks(t, "[CL\x01S]", &e), "[UNK] [UNK] [UNK]");
	encoding_dispose(&e);
	tokenizer_destroy(t);

	/* Cased: BasicTokenizer's never_split sees "[CLS]" after cleaning. */
	t = make(0, -1);
	encoding_init(&e);
	ck_assert_str_eq(toks(t, "[CL\x01S]", &e), "[CLS]");
	assert_span(&e, 0, 0, 6);
	encoding_dispose(&e);
	tokenizer_destroy(t);

	/* never_split strings are split out of the text like the specials
	 * (the loader passes the special token strings here); after lower-
	 * casing a word can still equal one, as in the reference. */
	const char *ns[] = {"<x>"};
	struct wordpiece_opts o = {1, -1, 1, 100, ns, 1};
	t = make_with(&o);
	ASSERT_TOKS(t, "a <x> b", "a <x> b");
	ASSERT_TOKS(t, "a<x>b", "a <x> b");
	ASSERT_TOKS(t, "a <X> b", "a <x> b");
	ASSERT_TOKS(t, "a <X>b", "a < x > b");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_templates)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	char err[256];
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, "a b", 3, "c", 1, &o, &e, err, sizeof(err)), 0);
	/* [CLS] a b [SEP] c [SEP] */
	const int32_t ids[] = {2, 39, 40, 3, 41, 3}, types[] = {0, 0, 0, 0, 1, 1};
	const int seq[] = {-1, 0, 0, -1, 1, -1}, special[] = {1, 0, 0, 1, 0, 1};
	ck_assert_int_eq(e.n, 6);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(e.ids[i], ids[i]);
		ck_assert_int_eq(e.type_ids[i], types[i]);
		ck_assert_int_eq(e.seq[i], seq[i]);
		ck_assert_int_eq(e.special[i], special[i]);
	}
	assert_span(&e, 0, -1, -1);
	assert_span(&e, 2, 2, 3);
	assert_span(&e, 4, 0, 1); /* offsets into the pair text */
	ck_assert_int_eq(e.n_untruncated, 6);
	ck_assert_int_eq(e.truncated, 0);

	ck_assert_int_eq(tokenizer_encode(t, "", 0, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_int_eq(e.ids[0], 2);
	ck_assert_int_eq(e.ids[1], 3);

	o.add_special_tokens = 0;
	ck_assert_int_eq(tokenizer_encode(t, "a b", 3, "c", 1, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 3);
	ck_assert_int_eq(e.type_ids[1], 0);
	ck_assert_int_eq(e.type_ids[2], 1);
	ck_assert_int_eq(e.seq[2], 1);
	ck_assert_int_eq(e.special[2], 0);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

/* Encodes and returns the token strings joined by ' ' (specials incl.). */
static const char *trunc_toks(const struct tokenizer *t, const char *a, const char *b,
                              int32_t max_length, enum truncation_side side, struct encoding *e)
{
	static char buf[512];
	char err[256];
	struct encode_opts o = {1, max_length, 1, side};
	int rc = tokenizer_encode(t, a, strlen(a), b, b ? strlen(b) : 0, &o, e, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	buf[0] = '\0';
	for (int32_t i = 0; i < e->n; i++) {
		strcat(buf, i ? " " : "");
		strcat(buf, tokenizer_id_to_token(t, e->ids[i]));
	}
	return buf;
}

START_TEST(test_truncation)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	encoding_init(&e);
	ck_assert_str_eq(trunc_toks(t, "a b c d e", NULL, 5, TRUNCATION_RIGHT, &e),
	                 "[CLS] a b c [SEP]");
	ck_assert_int_eq(e.truncated, 1);
	ck_assert_int_eq(e.n_untruncated, 7);
	assert_span(&e, 3, 4, 5);
	ck_assert_str_eq(trunc_toks(t, "a b c d e", NULL, 5, TRUNCATION_LEFT, &e),
	                 "[CLS] c d e [SEP]");
	assert_span(&e, 1, 4, 5);
	ck_assert_str_eq(trunc_toks(t, "a b c d e", NULL, 7, TRUNCATION_RIGHT, &e),
	                 "[CLS] a b c d e [SEP]");
	ck_assert_int_eq(e.truncated, 0);
	ck_assert_str_eq(trunc_toks(t, "a b c", NULL, 2, TRUNCATION_RIGHT, &e), "[CLS] [SEP]");

	/* longest_first: 5 + 3 + 3 specials = 11 -> 8: A 5->4->3, tie -> B 2. */
	ck_assert_str_eq(trunc_toks(t, "a b c d e", "x y x", 8, TRUNCATION_RIGHT, &e),
	                 "[CLS] a b c [SEP] x y [SEP]");
	ck_assert_int_eq(e.n_untruncated, 11);
	ck_assert_int_eq(e.type_ids[5], 1);
	ck_assert_str_eq(trunc_toks(t, "a b c d e", "x y x", 8, TRUNCATION_LEFT, &e),
	                 "[CLS] c d e [SEP] y x [SEP]");
	assert_span(&e, 5, 2, 3);
	/* Equal lengths: the pair loses first. */
	ck_assert_str_eq(trunc_toks(t, "a b", "x y", 6, TRUNCATION_RIGHT, &e),
	                 "[CLS] a b [SEP] x [SEP]");
	ck_assert_str_eq(trunc_toks(t, "a b", "x y", 3, TRUNCATION_RIGHT, &e), "[CLS] [SEP] [SEP]");
	/* A long first text against a short pair. */
	ck_assert_str_eq(trunc_toks(t, "a b c d e a b c d e", "x", 7, TRUNCATION_RIGHT, &e),
	                 "[CLS] a b c [SEP] x [SEP]");
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_too_long_error)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	char err[256] = "";
	struct encode_opts o = {1, 8, 0, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, "a b c d e", 9, "x y x", 5, &o, &e, err, sizeof(err)),
	                 STATUS_ETOOLONG);
	ck_assert_str_eq(err, "`inputs` must have less than 8 tokens. Given: 11");
	ck_assert_int_eq(e.n_untruncated, 11);
	ck_assert_int_eq(e.n, 0);
	o.max_length = 11;
	ck_assert_int_eq(tokenizer_encode(t, "a b c d e", 9, "x y x", 5, &o, &e, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(e.n, 11);
	o.max_length = 1;
	o.truncate = 1;
	ck_assert_int_eq(tokenizer_encode(t, "a", 1, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	o.max_length = -1;
	ck_assert_int_eq(tokenizer_encode(t, "a", 1, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_invalid_input)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	char err[256] = "";
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, "ab\xc3", 3, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	ck_assert_str_eq(err, "input is not valid UTF-8");
	ck_assert_int_eq(tokenizer_encode(t, "ab", 2, "\xed\xa0\x80", 3, &o, &e, err, sizeof(err)),
	                 STATUS_EINVAL);
	/* n_text bounds the read; the NUL inside is text. */
	ck_assert_int_eq(tokenizer_encode(t, "a\0b", 3, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 4); /* [CLS] a ##b [SEP]: the NUL is dropped */
	ck_assert_int_eq(e.ids[1], 39);
	ck_assert_int_eq(e.ids[2], 47);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_no_unk)
{
	struct vocab v = {0};
	struct tokenizer *t = NULL;
	struct encoding e;
	char err[256] = "";
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	ck_assert_int_eq(vocab_add(&v, "a", 1), 0);
	ck_assert_int_eq(wordpiece_create(&v, NULL, &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t->unk_id, -1);
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, "a", 1, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_ETOKENIZER); /* no [CLS]/[SEP] */
	o.add_special_tokens = 0;
	ck_assert_int_eq(tokenizer_encode(t, "a a", 3, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 2);
	ck_assert_int_eq(tokenizer_encode(t, "a b", 3, NULL, 0, &o, &e, err, sizeof(err)),
	                 STATUS_ETOKENIZER);
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

static int32_t id_of(const struct tokenizer *t, const char *s)
{
	return vocab_find(&t->vocab, s, strlen(s));
}

START_TEST(test_decode)
{
	struct tokenizer *t = make(1, -1);
	char out[128], err[128];
	const int32_t a[] = {id_of(t, "[CLS]"), id_of(t, "hello"), id_of(t, ","),
	                     id_of(t, "world"), id_of(t, "!"),     id_of(t, "[SEP]")};
	ck_assert_int_eq(tokenizer_decode(t, a, 6, 1, out, sizeof(out), err, sizeof(err)), 13);
	ck_assert_str_eq(out, "hello, world!");
	ck_assert_int_eq(tokenizer_decode(t, a, 6, 0, out, sizeof(out), err, sizeof(err)), 25);
	ck_assert_str_eq(out, "[CLS] hello, world! [SEP]");
	const int32_t b[] = {id_of(t, "un"), id_of(t, "##want"), id_of(t, "##ed"), id_of(t, "don"),
	                     id_of(t, "'"),  id_of(t, "t"),      id_of(t, "it"),   id_of(t, "'"),
	                     id_of(t, "s"),  id_of(t, "?")};
	ck_assert_int_eq(tokenizer_decode(t, b, 10, 1, out, sizeof(out), err, sizeof(err)), 20);
	ck_assert_str_eq(out, "unwanted don't it's?");
	/* Like snprintf: the needed length, output cut to fit. */
	ck_assert_int_eq(tokenizer_decode(t, b, 10, 1, out, 6, err, sizeof(err)), 20);
	ck_assert_str_eq(out, "unwan");
	ck_assert_int_eq(tokenizer_decode(t, b, 10, 1, NULL, 0, err, sizeof(err)), 20);
	ck_assert_int_eq(tokenizer_decode(t, b, 0, 1, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "");
	const int32_t bad[] = {1, 100000};
	ck_assert_int_eq(tokenizer_decode(t, bad, 2, 1, out, sizeof(out), err, sizeof(err)),
	                 STATUS_EINVAL);
	const int32_t neg[] = {-1};
	ck_assert_int_eq(tokenizer_decode(t, neg, 1, 1, out, sizeof(out), err, sizeof(err)),
	                 STATUS_EINVAL);
	ck_assert_ptr_null(tokenizer_id_to_token(t, -1));
	ck_assert_ptr_null(tokenizer_id_to_token(t, t->vocab.n_tokens));
	ck_assert_str_eq(tokenizer_id_to_token(t, 1), "[UNK]");
	tokenizer_destroy(t);
}
END_TEST

START_TEST(test_encoding_reuse)
{
	struct tokenizer *t = make(1, -1);
	struct encoding e;
	char err[128];
	char *big = malloc(30001);
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	for (int i = 0; i < 30000; i += 2) {
		big[i] = 'a';
		big[i + 1] = ' ';
	}
	big[30000] = '\0';
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, big, 30000, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 15002);
	int32_t cap = e.cap;
	int32_t *ids = e.ids;
	ck_assert_int_eq(tokenizer_encode(t, "a", 1, NULL, 0, &o, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.n, 3);
	ck_assert_int_eq(e.cap, cap); /* kept, not reallocated */
	ck_assert_ptr_eq(e.ids, ids);
	ck_assert_int_eq(encoding_reserve(&e, 10), 0);
	encoding_dispose(&e);
	free(big);
	tokenizer_destroy(t);
}
END_TEST

struct thread_arg {
	const struct tokenizer *t;
	const char *text;
	int32_t want[64];
	int32_t n_want;
	int bad;
};

static void *encode_loop(void *p)
{
	struct thread_arg *a = p;
	struct encoding e;
	char err[128];
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	encoding_init(&e);
	for (int i = 0; i < 2000; i++) {
		if (tokenizer_encode(a->t, a->text, strlen(a->text), NULL, 0, &o, &e, err,
		                     sizeof(err)) != 0 ||
		    e.n != a->n_want || memcmp(e.ids, a->want, (size_t)e.n * sizeof(int32_t)) != 0)
			a->bad++;
	}
	encoding_dispose(&e);
	return NULL;
}

START_TEST(test_threads)
{
	struct tokenizer *t = make(1, -1);
	const char *text = "Unwanted running, caf\xc3\xa9 na\xc3\xafve [MASK] \xe5\x8d\x9a!";
	struct thread_arg args[4];
	pthread_t th[4];
	struct encoding e;
	char err[128];
	struct encode_opts o = {1, 0, 1, TRUNCATION_RIGHT};
	encoding_init(&e);
	ck_assert_int_eq(tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, err, sizeof(err)),
	                 0);
	ck_assert_int_le(e.n, 64);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){.t = t, .text = text, .n_want = e.n};
		memcpy(args[i].want, e.ids, (size_t)e.n * sizeof(int32_t));
		ck_assert_int_eq(pthread_create(&th[i], NULL, encode_loop, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].bad, 0);
	}
	encoding_dispose(&e);
	tokenizer_destroy(t);
}
END_TEST

static Suite *wordpiece_suite(void)
{
	Suite *s = suite_create("wordpiece");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_utf8_valid);
	tcase_add_test(tc, test_vocab);
	tcase_add_test(tc, test_wordpiece_greedy);
	tcase_add_test(tc, test_basic_lower);
	tcase_add_test(tc, test_basic_lower_keep_accents);
	tcase_add_test(tc, test_basic_no_lower);
	tcase_add_test(tc, test_chinese_and_whitespace);
	tcase_add_test(tc, test_too_long_word);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_special_tokens_in_text);
	tcase_add_test(tc, test_templates);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_too_long_error);
	tcase_add_test(tc, test_invalid_input);
	tcase_add_test(tc, test_no_unk);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_encoding_reuse);
	tcase_add_test(tc, test_threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(wordpiece_suite());
}
