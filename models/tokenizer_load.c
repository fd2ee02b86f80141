/*
 * Reads the classic tokenizer files of a Hugging Face model folder, the ones
 * save_pretrained writes for BertTokenizer and its WordPiece relatives:
 * vocab.txt (one token a line, id = line number), tokenizer_config.json
 * (the constructor's keyword arguments) and special_tokens_map.json (which
 * overrides the special token strings, as from_pretrained does). Folders
 * whose tokenizer is SentencePiece, byte-level BPE or only tokenizer.json
 * are recognised and refused with STATUS_EUNSUPPORTED.
 */
#include "tokenizer_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "status.h"
#include "wordpiece.h"

enum { SPECIAL_CLS, SPECIAL_SEP, SPECIAL_PAD, SPECIAL_UNK, SPECIAL_MASK, N_SPECIALS };

static const char *const special_keys[N_SPECIALS] = {"cls_token", "sep_token", "pad_token",
                                                     "unk_token", "mask_token"};
static const char *const special_defaults[N_SPECIALS] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]",
                                                         "[MASK]"};

/* tokenizer_class values that are BertTokenizer with another name. */
static const char *const wordpiece_classes[] = {
    "BertTokenizer",        "DistilBertTokenizer", "ElectraTokenizer",  "MobileBertTokenizer",
    "SqueezeBertTokenizer", "LayoutLMTokenizer",   "ConvBertTokenizer", "RetriBertTokenizer",
};

/* What tokenizer_config.json and special_tokens_map.json say. Strings are
 * borrowed from the JSON documents. */
struct tok_cfg {
	int do_lower_case;
	int strip_accents;
	int tokenize_chinese_chars;
	int32_t model_max_length;
	const char *special[N_SPECIALS]; /* NULL if null in the files */
	const char **never_split;        /* (n_never_split) owned array */
	size_t n_never_split;
};

static int path_join(char *buf, size_t n, const char *dir, const char *name)
{
	int k = snprintf(buf, n, "%s/%s", dir, name);
	return k < 0 || (size_t)k >= n ? STATUS_EINVAL : 0;
}

static int file_exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	return path_join(path, sizeof(path), dir, name) == 0 && stat(path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

/* Reads all of path into *out (malloc'd, NUL-terminated). */
static int read_all(const char *path, char **out, size_t *n_out, char *err, size_t n_err)
{
	int rc = 0;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		rc = status_fail(err, n_err, STATUS_EIO, "cannot open %s: %s", path,
		                 strerror(errno));
		goto fail;
	}
	for (;;) {
		if (cap - n < 65536) {
			size_t new_cap = cap ? cap * 2 : 65536;
			char *p = realloc(buf, new_cap + 1);
			if (p == NULL) {
				rc = status_fail(err, n_err, STATUS_ENOMEM,
				                 "out of memory reading %s", path);
				goto fail;
			}
			buf = p;
			cap = new_cap;
		}
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		rc = status_fail(err, n_err, STATUS_EIO, "cannot read %s", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*n_out = n;
	return 0;

fail:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

/* Parses dir/name into *out (new reference), or *out = NULL if absent. */
static int json_read_opt(const char *dir, const char *name, json_t **out, char *err, size_t n_err)
{
	char path[4096];
	char *buf = NULL;
	size_t n = 0;
	json_error_t jerr;
	int rc = 0;

	*out = NULL;
	if (!file_exists(dir, name))
		return 0;
	if (path_join(path, sizeof(path), dir, name) != 0)
		return status_fail(err, n_err, STATUS_EINVAL, "path too long: %s/%s", dir, name);
	if ((rc = read_all(path, &buf, &n, err, n_err)) != 0)
		goto fail;
	/* INT_AS_REAL: model_max_length is often 1000000000000000019884624838656. */
	*out = json_loadb(buf, n, JSON_DECODE_INT_AS_REAL, &jerr);
	if (*out == NULL) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "%s: line %d: %s", name, jerr.line,
		                 jerr.text);
		goto fail;
	}
	if (!json_is_object(*out)) {
		rc =
		    status_fail(err, n_err, STATUS_EFORMAT, "%s: top level is not an object", name);
		goto fail;
	}
	free(buf);
	return 0;

fail:
	json_decref(*out);
	*out = NULL;
	free(buf);
	return rc;
}

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

static int read_options(const json_t *cfg, struct tok_cfg *c, char *err, size_t n_err)
{
	static const char *file = "tokenizer_config.json";
	const json_t *v;
	int rc, basic;

	if ((v = json_object_get(cfg, "tokenizer_class")) != NULL && json_is_string(v)) {
		const char *cls = json_string_value(v);
		size_t n = strlen(cls), i = 0, n_cls = sizeof(wordpiece_classes) / sizeof(char *);
		if (n > 4 && strcmp(cls + n - 4, "Fast") == 0)
			n -= 4;
		while (i < n_cls && !(strlen(wordpiece_classes[i]) == n &&
		                      strncmp(cls, wordpiece_classes[i], n) == 0))
			i++;
		if (i == n_cls)
			return status_fail(err, n_err, STATUS_EUNSUPPORTED,
			                   "%s: tokenizer_class %s is not a WordPiece tokenizer "
			                   "smolserve reads",
			                   file, cls);
	}
	if ((rc = get_bool(cfg, "do_basic_tokenize", 1, &basic, file, err, n_err)) != 0)
		return rc;
	if (!basic)
		return status_fail(err, n_err, STATUS_EUNSUPPORTED,
		                   "%s: do_basic_tokenize false is not supported", file);
	if ((rc = get_bool(cfg, "do_lower_case", 1, &c->do_lower_case, file, err, n_err)) != 0 ||
	    (rc = get_bool(cfg, "tokenize_chinese_chars", 1, &c->tokenize_chinese_chars, file, err,
	                   n_err)) != 0)
		return rc;
	c->strip_accents = -1;
	v = json_object_get(cfg, "strip_accents");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: strip_accents must be null, true or false", file);
		c->strip_accents = json_is_true(v);
	}
	c->model_max_length = 0;
	v = json_object_get(cfg, "model_max_length");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_number(v))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "%s: model_max_length must be a number", file);
		double m = json_number_value(v);
		c->model_max_length = m >= 1 && m <= 1e9 ? (int32_t)m : 0; /* 1e30: "no limit" */
	}
	return 0;
}

/* Special token strings: tokenizer_config.json, then special_tokens_map.json
 * on top. Collects them, additional_special_tokens and never_split into
 * c->never_split. */
static int read_specials(const json_t *cfg, const json_t *map, struct tok_cfg *c, char *err,
                         size_t n_err)
{
	const json_t *extra = NULL, *never = NULL, *v;
	size_t n = N_SPECIALS;

	for (int i = 0; i < N_SPECIALS; i++) {
		c->special[i] = special_defaults[i];
		for (int f = 0; f < 2; f++) {
			const json_t *obj = f == 0 ? cfg : map;
			if (obj == NULL || (v = json_object_get(obj, special_keys[i])) == NULL)
				continue;
			c->special[i] = json_is_null(v) ? NULL : token_string(v);
			if (!json_is_null(v) && (c->special[i] == NULL || !c->special[i][0]))
				return status_fail(err, n_err, STATUS_EFORMAT,
				                   "%s: %s must be a non-empty string or "
				                   "{\"content\": ...}",
				                   f == 0 ? "tokenizer_config.json"
				                          : "special_tokens_map.json",
				                   special_keys[i]);
		}
	}
	if (map != NULL && json_is_array(json_object_get(map, "additional_special_tokens")))
		extra = json_object_get(map, "additional_special_tokens");
	else if (cfg != NULL && json_is_array(json_object_get(cfg, "additional_special_tokens")))
		extra = json_object_get(cfg, "additional_special_tokens");
	if (cfg != NULL && json_is_array(json_object_get(cfg, "never_split")))
		never = json_object_get(cfg, "never_split");
	n += json_array_size(extra) + json_array_size(never);
	if ((c->never_split = calloc(n, sizeof(*c->never_split))) == NULL)
		return status_fail(err, n_err, STATUS_ENOMEM, "out of memory");
	for (int i = 0; i < N_SPECIALS; i++)
		if (c->special[i] != NULL)
			c->never_split[c->n_never_split++] = c->special[i];
	for (int f = 0; f < 2; f++) {
		const json_t *arr = f == 0 ? extra : never;
		for (size_t i = 0; i < json_array_size(arr); i++) {
			const char *s = token_string(json_array_get(arr, i));
			if (s == NULL || !s[0])
				return status_fail(
				    err, n_err, STATUS_EFORMAT,
				    "%s[%zu] must be a non-empty string",
				    f == 0 ? "additional_special_tokens" : "never_split", i);
			c->never_split[c->n_never_split++] = s;
		}
	}
	for (size_t i = 0; i < c->n_never_split; i++)
		if (!utf8_valid(c->never_split[i], strlen(c->never_split[i])))
			return status_fail(err, n_err, STATUS_EFORMAT,
			                   "special token %zu is not valid UTF-8", i);
	return 0;
}

/* vocab.txt: one token a line, line ends \n, \r\n or \r (Python's
 * universal newlines, as load_vocab reads it); nothing else is stripped. */
static int read_vocab(const char *dir, struct vocab *v, char *err, size_t n_err)
{
	char path[4096];
	char *buf = NULL;
	size_t n = 0, i = 0;
	int rc = 0, line = 1;

	if (path_join(path, sizeof(path), dir, "vocab.txt") != 0) {
		rc = status_fail(err, n_err, STATUS_EINVAL, "path too long: %s", dir);
		goto fail;
	}
	if ((rc = read_all(path, &buf, &n, err, n_err)) != 0)
		goto fail;
	while (i < n) {
		size_t j = i;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (!utf8_valid(buf + i, j - i) || memchr(buf + i, '\0', j - i) != NULL) {
			rc = status_fail(err, n_err, STATUS_EFORMAT,
			                 "vocab.txt: line %d is not valid UTF-8 text", line);
			goto fail;
		}
		if ((rc = vocab_add(v, buf + i, j - i)) != 0) {
			rc = status_fail(err, n_err, rc, "vocab.txt: line %d: %s", line,
			                 status_str(rc));
			goto fail;
		}
		if (j + 1 < n && buf[j] == '\r' && buf[j + 1] == '\n')
			j++;
		i = j + 1;
		line++;
	}
	if (v->n_tokens == 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "vocab.txt is empty");
		goto fail;
	}
	free(buf);
	return 0;

fail:
	free(buf);
	vocab_dispose(v);
	return rc;
}

/* Added tokens beyond vocab.txt would need their own matching rules: accept
 * only entries that name a token vocab.txt already has at that id
 * (added_tokens.json {"tok": id}, added_tokens_decoder {"id": {...}}). */
static int check_added(const json_t *obj, int by_id, const struct vocab *v, const char *file,
                       char *err, size_t n_err)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		const char *tok = by_id ? token_string(val) : key;
		double id = by_id ? strtod(key, NULL) : json_number_value(val);
		if (tok == NULL || (!by_id && !json_is_number(val)) || id < 0 ||
		    id >= v->n_tokens || strcmp(v->tokens[(int32_t)id], tok) != 0)
			return status_fail(err, n_err, STATUS_EUNSUPPORTED,
			                   "%s: added token \"%s\" is not in vocab.txt; added "
			                   "tokens are not supported yet",
			                   file, tok ? tok : key);
	}
	return 0;
}

static int refuse_other_kinds(const char *dir, char *err, size_t n_err)
{
	static const char *const kinds[][2] = {
	    {"spiece.model", "SentencePiece"},
	    {"sentencepiece.bpe.model", "SentencePiece BPE"},
	    {"vocab.json", "byte-level BPE"},
	    {"tokenizer.json", "fast-tokenizer-only"},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (file_exists(dir, kinds[i][0]))
			return status_fail(err, n_err, STATUS_EUNSUPPORTED,
			                   "%s/%s: %s tokenizers are not supported yet "
			                   "(smolserve reads WordPiece vocab.txt)",
			                   dir, kinds[i][0], kinds[i][1]);
	return status_fail(err, n_err, STATUS_EIO,
	                   "no tokenizer in %s: looked for vocab.txt (and spiece.model, "
	                   "sentencepiece.bpe.model, vocab.json, tokenizer.json)",
	                   dir);
}

/* See tokenizer_load.h. Build time, any thread. */
int tokenizer_load(const char *dir, struct tokenizer **out, char *err, size_t n_err)
{
	json_t *cfg = NULL, *map = NULL, *added = NULL;
	struct tok_cfg c = {1, -1, 1, 0, {NULL}, NULL, 0};
	struct vocab v = {0};
	struct tokenizer *t = NULL;
	int32_t *ids[N_SPECIALS];
	int rc = 0;

	if (!file_exists(dir, "vocab.txt")) {
		rc = refuse_other_kinds(dir, err, n_err);
		goto fail;
	}
	if ((rc = json_read_opt(dir, "tokenizer_config.json", &cfg, err, n_err)) != 0 ||
	    (rc = json_read_opt(dir, "special_tokens_map.json", &map, err, n_err)) != 0 ||
	    (rc = json_read_opt(dir, "added_tokens.json", &added, err, n_err)) != 0)
		goto fail;
	if (cfg != NULL && (rc = read_options(cfg, &c, err, n_err)) != 0)
		goto fail;
	if ((rc = read_specials(cfg, map, &c, err, n_err)) != 0)
		goto fail;
	if ((rc = read_vocab(dir, &v, err, n_err)) != 0)
		goto fail;
	if (added != NULL && (rc = check_added(added, 0, &v, "added_tokens.json", err, n_err)) != 0)
		goto fail;
	if (cfg != NULL && json_is_object(json_object_get(cfg, "added_tokens_decoder")) &&
	    (rc = check_added(json_object_get(cfg, "added_tokens_decoder"), 1, &v,
	                      "tokenizer_config.json", err, n_err)) != 0)
		goto fail;
	if (c.special[SPECIAL_UNK] == NULL ||
	    vocab_find(&v, c.special[SPECIAL_UNK], strlen(c.special[SPECIAL_UNK])) < 0) {
		rc = status_fail(err, n_err, STATUS_EFORMAT, "vocab.txt has no unk token \"%s\"",
		                 c.special[SPECIAL_UNK] ? c.special[SPECIAL_UNK] : "(null)");
		goto fail;
	}

	struct wordpiece_opts o = {
	    .do_lower_case = c.do_lower_case,
	    .strip_accents = c.strip_accents,
	    .tokenize_chinese_chars = c.tokenize_chinese_chars,
	    .max_input_chars_per_word = 100,
	    .never_split = c.never_split,
	    .n_never_split = c.n_never_split,
	};
	if ((rc = wordpiece_create(&v, &o, &t, err, n_err)) != 0)
		goto fail;
	/* As convert_tokens_to_ids: a special string missing from the vocab
	 * maps to the unk id; a special set to null has none (-1). */
	ids[SPECIAL_CLS] = &t->cls_id;
	ids[SPECIAL_SEP] = &t->sep_id;
	ids[SPECIAL_PAD] = &t->pad_id;
	ids[SPECIAL_UNK] = &t->unk_id;
	ids[SPECIAL_MASK] = &t->mask_id;
	t->unk_id = vocab_find(&t->vocab, c.special[SPECIAL_UNK], strlen(c.special[SPECIAL_UNK]));
	for (int i = 0; i < N_SPECIALS; i++) {
		const char *s = c.special[i];
		*ids[i] = s == NULL ? -1 : vocab_find(&t->vocab, s, strlen(s));
		if (s != NULL && *ids[i] < 0)
			*ids[i] = t->unk_id;
	}
	t->model_max_length = c.model_max_length;
	*out = t;
	t = NULL;

fail:
	tokenizer_destroy(t);
	vocab_dispose(&v);
	free(c.never_split);
	json_decref(cfg);
	json_decref(map);
	json_decref(added);
	return rc;
}
