/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads the classic tokenizer files of a Hugging Face model folder, the ones
 * save_pretrained writes for the slow tokenizers, and builds the matching
 * tokenizer: vocab.txt -> WordPiece (BertTokenizer and its renamings),
 * vocab.json + merges.txt -> byte-level BPE (RobertaTokenizer),
 * spiece.model -> SentencePiece as AlbertTokenizer, sentencepiece.bpe.model
 * -> SentencePiece as XLMRobertaTokenizer, spm.model -> SentencePiece as
 * DebertaV2Tokenizer (MPNetTokenizer: vocab.txt with RoBERTa's template).
 * tokenizer_config.json (the
 * constructor's keyword arguments, its tokenizer_class choosing the kind)
 * and special_tokens_map.json (which overrides the special tokens, as
 * from_pretrained does) give the options, the special tokens and how they
 * strip whitespace when written in the text. tokenizer.json, when present,
 * is preferred (tokenizer_json.c reads it), as text-embeddings-inference
 * does; the classic files are the fallback, or the choice.
 */
#include "tokenizer_load.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "bpe.h"
#include "sentencepiece.h"
#include "status.h"
#include "tokenizer_files.h"
#include "tokenizer_json.h"
#include "wordpiece.h"

enum {
	SPECIAL_CLS,
	SPECIAL_SEP,
	SPECIAL_PAD,
	SPECIAL_UNK,
	SPECIAL_MASK,
	SPECIAL_BOS,
	SPECIAL_EOS,
	N_SPECIALS
};

static const char *const special_keys[N_SPECIALS] = {
    "cls_token", "sep_token", "pad_token", "unk_token", "mask_token", "bos_token", "eos_token",
};

enum tok_kind {
	KIND_WORDPIECE,
	KIND_WORDPIECE_MPNET, /* WordPiece with <s> A </s></s> B </s> */
	KIND_BPE,
	KIND_SPM_ALBERT, /* the SentencePiece kinds last: kind >= KIND_SPM_ALBERT */
	KIND_SPM_XLM_ROBERTA,
	KIND_SPM_DEBERTA,
};

/* What each kind reads and what its tokenizer class's __init__ does with
 * special tokens given as plain strings (transformers v4.31). */
struct kind_info {
	const char *file, *file2; /* the files it needs (file2 may be NULL) */
	const char *classes[8];   /* tokenizer_class values (without "Fast") */
	const char *defaults[N_SPECIALS];
	int wrap_all;  /* every special becomes AddedToken(lstrip=False, rstrip=False) */
	int wrap_mask; /* mask_token becomes AddedToken(lstrip=True) */
};

static const struct kind_info kinds[] = {
    [KIND_WORDPIECE] = {"vocab.txt",
                        NULL,
                        {"BertTokenizer", "DistilBertTokenizer", "ElectraTokenizer",
                         "MobileBertTokenizer", "SqueezeBertTokenizer", "LayoutLMTokenizer",
                         "ConvBertTokenizer", "RetriBertTokenizer"},
                        {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", NULL, NULL},
                        0,
                        0},
    /* MPNetTokenizer wraps every special as AddedToken, the mask with lstrip */
    [KIND_WORDPIECE_MPNET] = {"vocab.txt",
                              NULL,
                              {"MPNetTokenizer"},
                              {"<s>", "</s>", "<pad>", "[UNK]", "<mask>", "<s>", "</s>"},
                              1,
                              1},
    [KIND_BPE] = {"vocab.json",
                  "merges.txt",
                  {"RobertaTokenizer"},
                  {"<s>", "</s>", "<pad>", "<unk>", "<mask>", "<s>", "</s>"},
                  1,
                  1},
    [KIND_SPM_ALBERT] = {"spiece.model",
                         NULL,
                         {"AlbertTokenizer"},
                         {"[CLS]", "[SEP]", "<pad>", "<unk>", "[MASK]", "[CLS]", "[SEP]"},
                         0,
                         1},
    [KIND_SPM_XLM_ROBERTA] = {"sentencepiece.bpe.model",
                              NULL,
                              {"XLMRobertaTokenizer"},
                              {"<s>", "</s>", "<pad>", "<unk>", "<mask>", "<s>", "</s>"},
                              0,
                              1},
    /* DebertaV2Tokenizer (transformers v4.31) keeps its specials as plain
     * strings: each strips the whitespace on both sides */
    [KIND_SPM_DEBERTA] = {"spm.model",
                          NULL,
                          {"DebertaV2Tokenizer"},
                          {"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]"},
                          0,
                          0},
};
#define N_KINDS (int)(sizeof(kinds) / sizeof(kinds[0]))

/* A special token: its string (borrowed from the JSON documents; NULL if
 * none) and whether it eats the whitespace on its left / right. */
struct special {
	const char *s;
	int lstrip, rstrip;
};

/* What tokenizer_config.json and special_tokens_map.json say. */
struct tok_cfg {
	int32_t model_max_length;
	struct special special[N_SPECIALS];
	struct special *extra; /* (n_extra) owned: additional_special_tokens */
	size_t n_extra;
};

static int get_bool(const json_t *obj, const char *key, int def, int *out, const char *file,
                    char *err, size_t n_err)
{
	const json_t *v = obj ? json_object_get(obj, key) : NULL;
	*out = def;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return status_fail(err, n_err, STATUS_EFORMAT, "%s: %s must be true or false", file,
		                   key);
	*out = json_is_true(v);
	return 0;
}

/* A token given as "str" or as an AddedToken object {"content": "str"}. */
static const char *token_string(const json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_object(v) && json_is_string(json_object_get(v, "content")))
		return json_string_value(json_object_get(v, "content"));
	return NULL;
}

/* tokenizer_class (without "Fast") or NULL; 0 or STATUS_EFORMAT. */
static int get_class(const json_t *cfg, char *cls, size_t n_cls, char *err, size_t n_err)
{
	const json_t *v = cfg ? json_object_get(cfg, "tokenizer_class") : NULL;
	cls[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "tokenizer_config.json: tokenizer_class must be a string");
	size_t n = strlen(json_string_value(v));
	if (n > 4 && strcmp(json_string_value(v) + n - 4, "Fast") == 0)
		n -= 4;
	snprintf(cls, n_cls, "%.*s", (int)n, json_string_value(v));
	return 0;
}

/*
 * The kind of tokenizer: tokenizer_class when the config names one (then
 * its files must be there), else the first of vocab.txt, vocab.json +
 * merges.txt, spiece.model, sentencepiece.bpe.model present.
 */
static int detect_kind(const char *dir, const json_t *cfg, enum tok_kind *kind, char *err,
                       size_t n_err)
{
	char cls[256];
	int rc;

	if ((rc = get_class(cfg, cls, sizeof(cls), err, n_err)) != 0)
		return rc;
	for (int k = 0; k < N_KINDS; k++) {
		const struct kind_info *ki = &kinds[k];
		int named = 0;
		for (size_t i = 0; i < 8 && ki->classes[i] != NULL; i++)
			named |= strcmp(cls, ki->classes[i]) == 0;
		int present = tok_file_exists(dir, ki->file) &&
		              (!ki->file2 || tok_file_exists(dir, ki->file2));
		if (named && !present)
			return status_fail(err, n_err, STATUS_EIO, "%s: %s needs %s%s%s", dir, cls,
			                   ki->file, ki->file2 ? " and " : "",
			                   ki->file2 ? ki->file2 : "");
		if (named || (!cls[0] && present)) {
			*kind = (enum tok_kind)k;
			return 0;
		}
	}
	if (cls[0])
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "tokenizer_config.json: tokenizer_class %s is not a tokenizer "
		                   "smolserve reads",
		                   cls);
	if (tok_file_exists(dir, "tokenizer.json") || tok_file_exists(dir, "vocab.json"))
		return status_fail(
		    err, n_err, STATUS_EUNSUPPORTED,
		    "%s/%s: with tokenizer files \"classic\" only the slow tokenizers' files are "
		    "read (vocab.txt, vocab.json + merges.txt, spiece.model, "
		    "sentencepiece.bpe.model)",
		    dir,
		    tok_file_exists(dir, "vocab.json") ? "vocab.json without merges.txt"
		                                       : "tokenizer.json");
	return status_fail(err, n_err, STATUS_EIO,
	                   "no tokenizer in %s: looked for tokenizer.json, vocab.txt, vocab.json + "
	                   "merges.txt, spiece.model, sentencepiece.bpe.model",
	                   dir);
}

static int read_model_max_length(const json_t *cfg, int32_t *out, char *err, size_t n_err)
{
	const json_t *v = cfg ? json_object_get(cfg, "model_max_length") : NULL;
	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "tokenizer_config.json: model_max_length must be a number");
	double m = json_number_value(v);
	*out = m >= 1 && m <= 1e9 ? (int32_t)m : 0; /* 1e30: "no limit" */
	return 0;
}

/*
 * One special token from one file. A plain string in tokenizer_config.json
 * is what the class's __init__ makes of it (wrapped as AddedToken or kept
 * plain); in special_tokens_map.json, set after __init__, it stays plain.
 * A plain string strips both sides, an AddedToken as its flags say.
 */
static int read_special(const json_t *v, int from_map, int wrap, int mask, struct special *sp,
                        const char *file, const char *key, char *err, size_t n_err)
{
	if (json_is_null(v)) {
		*sp = (struct special){NULL, 0, 0};
		return 0;
	}
	sp->s = token_string(v);
	if (sp->s == NULL || !sp->s[0] || !utf8_valid(sp->s, strlen(sp->s)))
		return status_fail(err, n_err, STATUS_EFORMAT,
		                   "%s: %s must be a non-empty string or {\"content\": ...}", file,
		                   key);
	if (json_is_object(v)) {
		const json_t *l = json_object_get(v, "lstrip"), *r = json_object_get(v, "rstrip");
		if ((l && !json_is_boolean(l)) || (r && !json_is_boolean(r)))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: %s: lstrip and rstrip must be true or false", file,
			                   key);
		sp->lstrip = json_is_true(l);
		sp->rstrip = json_is_true(r);
	} else if (!from_map && (wrap || mask)) {
		sp->lstrip = mask;
		sp->rstrip = 0;
	} else {
		sp->lstrip = sp->rstrip = 1;
	}
	return 0;
}

/* Special tokens: the class's defaults, then tokenizer_config.json, then
 * special_tokens_map.json on top; additional_special_tokens from the map,
 * else from the config. */
static int read_specials(const json_t *cfg, const json_t *map, enum tok_kind kind,
                         struct tok_cfg *c, char *err, size_t n_err)
{
	const struct kind_info *ki = &kinds[kind];
	const json_t *extra = NULL, *v;
	int rc;

	for (int i = 0; i < N_SPECIALS; i++) {
		int mask = i == SPECIAL_MASK && ki->wrap_mask;
		c->special[i] = (struct special){ki->defaults[i], mask, 0};
		if (!ki->wrap_all && !mask)
			c->special[i].lstrip = c->special[i].rstrip = 1;
		for (int f = 0; f < 2; f++) {
			const json_t *obj = f == 0 ? cfg : map;
			const char *file =
			    f == 0 ? "tokenizer_config.json" : "special_tokens_map.json";
			if (obj == NULL || (v = json_object_get(obj, special_keys[i])) == NULL)
				continue;
			if ((rc = read_special(v, f, ki->wrap_all, mask, &c->special[i], file,
			                       special_keys[i], err, n_err)) != 0)
				return rc;
		}
	}
	if (map != NULL && json_is_array(json_object_get(map, "additional_special_tokens")))
		extra = json_object_get(map, "additional_special_tokens");
	else if (cfg != NULL && json_is_array(json_object_get(cfg, "additional_special_tokens")))
		extra = json_object_get(cfg, "additional_special_tokens");
	if (json_array_size(extra) == 0)
		return 0;
	if ((c->extra = calloc(json_array_size(extra), sizeof(*c->extra))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(extra); i++) {
		char key[64];
		snprintf(key, sizeof(key), "additional_special_tokens[%zu]", i);
		if ((rc = read_special(json_array_get(extra, i), 1, 0, 0, &c->extra[c->n_extra++],
		                       "special_tokens_map.json", key, err, n_err)) != 0)
			return rc;
		if (c->extra[i].s == NULL)
			return status_fail(err, n_err, STATUS_EFORMAT, "%s must not be null", key);
	}
	return 0;
}

/* 1 if tok is one of the special tokens c names. */
static int is_special_string(const struct tok_cfg *c, const char *tok)
{
	for (size_t i = 0; i < N_SPECIALS + c->n_extra; i++) {
		const char *s = i < N_SPECIALS ? c->special[i].s : c->extra[i - N_SPECIALS].s;
		if (s != NULL && strcmp(s, tok) == 0)
			return 1;
	}
	return 0;
}

/* The added token of entry (key, val) and its id (-1 if malformed). */
static const char *added_entry(const char *key, const json_t *val, int by_id, double *id)
{
	*id = by_id ? strtod(key, NULL) : json_is_number(val) ? json_number_value(val) : -1.0;
	return by_id ? token_string(val) : key;
}

/*
 * Added tokens (added_tokens.json {"tok": id}, added_tokens_decoder {"id":
 * {...}}): an entry inside the vocabulary must name the token it has at
 * that id. With append (not WordPiece, which splits its own specials),
 * special tokens the vocabulary lacks may follow it at ids n_tokens,
 * n_tokens + 1, ... (DeBERTa-v3's "[MASK]": 128000 after 128000 pieces):
 * they are appended, and set_specials splits them out of the text. Any
 * other added token would need its own matching rules: not supported yet.
 */
static int check_added(const json_t *obj, int by_id, struct vocab *v, const struct tok_cfg *c,
                       int append, const char *file, const char *vocab_file, char *err,
                       size_t n_err)
{
	const char *key, *tok;
	json_t *val;
	double id;
	int32_t n_vocab = v->n_tokens;
	size_t n_beyond = 0;
	json_object_foreach((json_t *)obj, key, val)
	{
		tok = added_entry(key, val, by_id, &id);
		int beyond = tok != NULL && append && id >= n_vocab && is_special_string(c, tok);
		n_beyond += beyond;
		if (tok == NULL || id < 0 || id > INT32_MAX ||
		    (!beyond && (id >= n_vocab || strcmp(v->tokens[(int32_t)id], tok) != 0)))
			goto unsupported;
	}
	for (size_t k = 0; k < n_beyond; k++) { /* in id order, no gap */
		int found = 0;
		json_object_foreach((json_t *)obj, key, val)
		{
			tok = added_entry(key, val, by_id, &id);
			if (tok == NULL || id != (double)v->n_tokens || found)
				continue;
			if (vocab_add(v, tok, strlen(tok)) != 0)
				return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
			found = 1;
		}
		if (!found)
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: added token ids must follow %s's %d tokens without "
			                   "a gap",
			                   file, vocab_file, (int)n_vocab);
	}
	return 0;
unsupported:
	return status_fail(err, n_err, STATUS_EUNSUPPORTED,
	                   "%s: added token \"%s\" is not in %s; added tokens are not supported "
	                   "yet",
	                   file, tok ? tok : key, vocab_file);
}

/* WordPiece: BertTokenizer's options and vocab.txt; the special strings
 * and never_split are kept whole by wordpiece.c itself. */
static int build_wordpiece(const char *dir, const json_t *cfg, const struct tok_cfg *c,
                           struct tokenizer **out, char *err, size_t n_err)
{
	static const char *file = "tokenizer_config.json";
	const char **never = NULL;
	const json_t *ns = cfg ? json_object_get(cfg, "never_split") : NULL, *v;
	struct vocab voc = {0};
	int rc, basic, lower, chinese, strip = -1;
	size_t n = 0;

	if ((rc = get_bool(cfg, "do_basic_tokenize", 1, &basic, file, err, n_err)) != 0 ||
	    (rc = get_bool(cfg, "do_lower_case", 1, &lower, file, err, n_err)) != 0 ||
	    (rc = get_bool(cfg, "tokenize_chinese_chars", 1, &chinese, file, err, n_err)) != 0)
		goto fail;
	if (!basic) {
		rc = status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                 "%s: do_basic_tokenize false is not supported", file);
		goto fail;
	}
	if ((v = cfg ? json_object_get(cfg, "strip_accents") : NULL) != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "%s: strip_accents must be null, true or false", file);
			goto fail;
		}
		strip = json_is_true(v);
	}
	if ((never = calloc(N_SPECIALS + c->n_extra + json_array_size(ns), sizeof(*never))) ==
	    NULL) {
		rc = status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < N_SPECIALS; i++)
		if (c->special[i].s != NULL)
			never[n++] = c->special[i].s;
	for (size_t i = 0; i < c->n_extra; i++)
		never[n++] = c->extra[i].s;
	for (size_t i = 0; i < json_array_size(ns); i++) {
		const char *s = token_string(json_array_get(ns, i));
		if (s == NULL || !s[0] || !utf8_valid(s, strlen(s))) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "never_split[%zu] must be a non-empty string", i);
			goto fail;
		}
		never[n++] = s;
	}
	if ((rc = tok_read_vocab_txt(dir, &voc, err, n_err)) != 0)
		goto fail;
	struct wordpiece_opts o = {
	    .do_lower_case = lower,
	    .strip_accents = strip,
	    .tokenize_chinese_chars = chinese,
	    .max_input_chars_per_word = 100,
	    .never_split = never,
	    .n_never_split = n,
	};
	rc = wordpiece_create(&voc, &o, out, err, n_err);

fail:
	free(never);
	return rc;
}

/* Byte-level BPE: vocab.json, merges.txt, add_prefix_space. */
static int build_bpe(const char *dir, const json_t *cfg, struct tokenizer **out, char *err,
                     size_t n_err)
{
	char *voc = NULL, *merges = NULL;
	size_t n_voc = 0, n_merges = 0;
	const json_t *e = cfg ? json_object_get(cfg, "errors") : NULL;
	struct bpe_opts o = {0};
	int rc;

	if ((rc = get_bool(cfg, "add_prefix_space", 0, &o.add_prefix_space, "tokenizer_config.json",
	                   err, n_err)) != 0)
		goto fail;
	if (e != NULL && !json_is_null(e) &&
	    (!json_is_string(e) || strcmp(json_string_value(e), "replace") != 0)) {
		rc = status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                 "tokenizer_config.json: errors must be \"replace\"");
		goto fail;
	}
	if ((rc = tok_read_file(dir, "vocab.json", &voc, &n_voc, err, n_err)) != 0 ||
	    (rc = tok_read_file(dir, "merges.txt", &merges, &n_merges, err, n_err)) != 0)
		goto fail;
	rc = bpe_create_from_json(voc, n_voc, merges, n_merges, &o, out, err, n_err);

fail:
	free(voc);
	free(merges);
	return rc;
}

/* SentencePiece: the model file, and AlbertTokenizer's or
 * DebertaV2Tokenizer's options. Errors are prefixed with the file's name. */
static int build_spm(const char *dir, const json_t *cfg, enum tok_kind kind, struct tokenizer **out,
                     char *err, size_t n_err)
{
	static const char *file = "tokenizer_config.json";
	const char *model = kinds[kind].file;
	struct sentencepiece_opts o = {SPM_ALBERT, 1, 1, 0};
	char *buf = NULL, msg[512] = "";
	size_t n = 0;
	int rc;

	if (kind == KIND_SPM_XLM_ROBERTA) {
		o.flavour = SPM_XLM_ROBERTA;
	} else if (kind == KIND_SPM_DEBERTA) {
		int split = 0;
		o.flavour = SPM_DEBERTA_V2;
		if ((rc = get_bool(cfg, "do_lower_case", 0, &o.do_lower_case, file, err, n_err)) !=
		        0 ||
		    (rc = get_bool(cfg, "split_by_punct", 0, &split, file, err, n_err)) != 0)
			goto fail;
		if (split) {
			rc = status_fail(err, n_err, STATUS_EUNSUPPORTED,
			                 "%s: split_by_punct true is not supported", file);
			goto fail;
		}
	} else if ((rc = get_bool(cfg, "do_lower_case", 1, &o.do_lower_case, file, err, n_err)) !=
	               0 ||
	           (rc = get_bool(cfg, "remove_space", 1, &o.remove_space, file, err, n_err)) !=
	               0 ||
	           (rc = get_bool(cfg, "keep_accents", 0, &o.keep_accents, file, err, n_err)) !=
	               0) {
		goto fail;
	}
	if ((rc = tok_read_file(dir, model, &buf, &n, err, n_err)) != 0)
		goto fail;
	if ((rc = sentencepiece_create((const uint8_t *)buf, n, &o, out, msg, sizeof(msg))) != 0)
		rc = status_fail(err, n_err, rc, "%s: %s", model, msg);

fail:
	free(buf);
	return rc;
}

/*
 * Special ids as convert_tokens_to_ids: the token's id, or the unk id if
 * it is not in the vocabulary (a SentencePiece tokenizer that knows its
 * default specials under another spelling keeps its own id). Then the
 * added tokens split out of the text, with their strip flags (not for
 * WordPiece, which splits its own).
 */
static int set_specials(struct tokenizer *t, enum tok_kind kind, const struct tok_cfg *c, char *err,
                        size_t n_err)
{
	int32_t *ids[] = {&t->cls_id, &t->sep_id, &t->pad_id, &t->unk_id, &t->mask_id};
	int32_t all[N_SPECIALS];
	const struct special *unk = &c->special[SPECIAL_UNK];
	int rc;

	int32_t unk_id = unk->s ? vocab_find(&t->vocab, unk->s, strlen(unk->s)) : -1;
	if (unk_id < 0 && kind >= KIND_SPM_ALBERT && unk->s &&
	    strcmp(unk->s, kinds[kind].defaults[SPECIAL_UNK]) == 0)
		unk_id = t->unk_id;
	if (unk_id < 0)
		return status_fail(err, n_err, STATUS_EFORMAT, "%s has no unk token \"%s\"",
		                   kinds[kind].file, unk->s ? unk->s : "(null)");
	for (int i = 0; i < N_SPECIALS; i++) {
		const char *s = c->special[i].s;
		int32_t own = i < 5 ? *ids[i] : -1;
		all[i] = s == NULL ? -1 : vocab_find(&t->vocab, s, strlen(s));
		if (s != NULL && all[i] < 0)
			all[i] = kind >= KIND_SPM_ALBERT && own >= 0 &&
			                 strcmp(s, kinds[kind].defaults[i]) == 0
			             ? own
			             : unk_id;
	}
	for (int i = 0; i < 5; i++)
		*ids[i] = all[i];
	if (kind == KIND_WORDPIECE || kind == KIND_WORDPIECE_MPNET)
		return 0;
	tokenizer_clear_specials(t);
	for (size_t i = 0; i < N_SPECIALS + c->n_extra; i++) {
		const struct special *sp =
		    i < N_SPECIALS ? &c->special[i] : &c->extra[i - N_SPECIALS];
		int32_t id = i < N_SPECIALS ? all[i] : vocab_find(&t->vocab, sp->s, strlen(sp->s));
		if (sp->s == NULL)
			continue;
		if (id < 0)
			return status_fail(
			    err, n_err, STATUS_EUNSUPPORTED,
			    "special token \"%s\" is not in %s; added tokens are not "
			    "supported yet",
			    sp->s, kinds[kind].file);
		if ((rc = tokenizer_add_special(t, sp->s, strlen(sp->s), id, sp->lstrip,
		                                sp->rstrip)) != 0)
			return status_fail(err, n_err, rc, "special token \"%s\": %s", sp->s,
			                   status_str(rc));
	}
	return 0;
}

/* The classic files (see the top of this file). */
static int load_classic(const char *dir, struct tokenizer **out, char *err, size_t n_err)
{
	json_t *cfg = NULL, *map = NULL, *added = NULL;
	struct tok_cfg c = {0};
	struct tokenizer *t = NULL;
	enum tok_kind kind = KIND_WORDPIECE;
	int rc = 0;

	if ((rc = tok_json_read_opt(dir, "tokenizer_config.json", &cfg, err, n_err)) != 0 ||
	    (rc = tok_json_read_opt(dir, "special_tokens_map.json", &map, err, n_err)) != 0 ||
	    (rc = tok_json_read_opt(dir, "added_tokens.json", &added, err, n_err)) != 0)
		goto fail;
	if ((rc = detect_kind(dir, cfg, &kind, err, n_err)) != 0 ||
	    (rc = read_model_max_length(cfg, &c.model_max_length, err, n_err)) != 0 ||
	    (rc = read_specials(cfg, map, kind, &c, err, n_err)) != 0)
		goto fail;
	if (kind == KIND_WORDPIECE || kind == KIND_WORDPIECE_MPNET)
		rc = build_wordpiece(dir, cfg, &c, &t, err, n_err);
	else if (kind == KIND_BPE)
		rc = build_bpe(dir, cfg, &t, err, n_err);
	else
		rc = build_spm(dir, cfg, kind, &t, err, n_err);
	if (rc != 0)
		goto fail;
	int wordpiece = kind == KIND_WORDPIECE || kind == KIND_WORDPIECE_MPNET;
	if (added != NULL &&
	    (rc = check_added(added, 0, &t->vocab, &c, !wordpiece, "added_tokens.json",
	                      kinds[kind].file, err, n_err)) != 0)
		goto fail;
	if (cfg != NULL && json_is_object(json_object_get(cfg, "added_tokens_decoder")) &&
	    (rc = check_added(json_object_get(cfg, "added_tokens_decoder"), 1, &t->vocab, &c,
	                      !wordpiece, "tokenizer_config.json", kinds[kind].file, err, n_err)) !=
	        0)
		goto fail;
	if ((rc = set_specials(t, kind, &c, err, n_err)) != 0)
		goto fail;
	t->model_max_length = c.model_max_length;
	t->source = kind == KIND_BPE ? "vocab.json + merges.txt" : kinds[kind].file;
	if (kind == KIND_WORDPIECE_MPNET)
		t->template_kind = TEMPLATE_ROBERTA; /* <s> A </s></s> B </s>, types all 0 */
	*out = t;
	t = NULL;

fail:
	tokenizer_destroy(t);
	free(c.extra);
	json_decref(cfg);
	json_decref(map);
	json_decref(added);
	return rc;
}

/*
 * tokenizer.json, with what transformers' fast tokenizers also take from
 * the folder: model_max_length (tokenizer_config.json, else the file's
 * truncation) and the names of the mask and pad tokens
 * (special_tokens_map.json over tokenizer_config.json).
 */
static int load_json(const char *dir, struct tokenizer **out, char *err, size_t n_err)
{
	json_t *cfg = NULL, *map = NULL;
	struct tokenizer_json_hints h = {NULL, NULL, 0};
	char *text = NULL;
	size_t n = 0;
	int rc;

	if ((rc = tok_json_read_opt(dir, "tokenizer_config.json", &cfg, err, n_err)) != 0 ||
	    (rc = tok_json_read_opt(dir, "special_tokens_map.json", &map, err, n_err)) != 0 ||
	    (rc = read_model_max_length(cfg, &h.model_max_length, err, n_err)) != 0)
		goto done;
	for (int f = 0; f < 2; f++) {
		const json_t *o = f == 0 ? cfg : map;
		const char *mask = token_string(json_object_get(o, "mask_token"));
		const char *pad = token_string(json_object_get(o, "pad_token"));
		h.mask_token = mask != NULL ? mask : h.mask_token;
		h.pad_token = pad != NULL ? pad : h.pad_token;
	}
	if ((rc = tok_read_file(dir, "tokenizer.json", &text, &n, err, n_err)) != 0 ||
	    (rc = tokenizer_json_build(text, n, &h, out, err, n_err)) != 0)
		goto done;
	(*out)->source = "tokenizer.json";
done:
	free(text);
	json_decref(cfg);
	json_decref(map);
	return rc;
}

/* See tokenizer_load.h. Build time, any thread. */
int tokenizer_load_from(const char *dir, enum tokenizer_source source, struct tokenizer **out,
                        char *err, size_t n_err)
{
	*out = NULL;
	if (source == TOKENIZER_SOURCE_JSON ||
	    (source == TOKENIZER_SOURCE_AUTO && tok_file_exists(dir, "tokenizer.json"))) {
		if (!tok_file_exists(dir, "tokenizer.json"))
			return status_fail(err, n_err, STATUS_EIO,
			                   "%s/tokenizer.json: no such file (tokenizer files "
			                   "\"tokenizer.json\" reads only that one)",
			                   dir);
		return load_json(dir, out, err, n_err);
	}
	return load_classic(dir, out, err, n_err);
}

int tokenizer_load(const char *dir, struct tokenizer **out, char *err, size_t n_err)
{
	return tokenizer_load_from(dir, TOKENIZER_SOURCE_AUTO, out, err, n_err);
}

int tokenizer_source_parse(const char *s, enum tokenizer_source *out)
{
	static const char *const names[] = {"auto", "tokenizer.json", "classic"};
	for (int i = 0; i < 3; i++)
		if (s != NULL && strcmp(s, names[i]) == 0) {
			*out = (enum tokenizer_source)i;
			return 0;
		}
	return STATUS_EINVAL;
}
