/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token classification post-processing (see ner.h), line by line after
 * transformers 4.31's TokenClassificationPipeline: gather_pre_entities,
 * aggregate / aggregate_words / aggregate_word, group_entities /
 * group_sub_entities, get_tag.
 */
#include "ner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "status.h"

static const char *const AGGREGATIONS[] = {"none", "simple", "first", "average", "max"};

int aggregation_from_name(const char *name)
{
	for (int i = 0; i < (int)(sizeof(AGGREGATIONS) / sizeof(AGGREGATIONS[0])); i++)
		if (strcmp(name, AGGREGATIONS[i]) == 0)
			return i;
	return -1;
}

void ner_entities_free(struct ner_entity *e, int32_t n)
{
	for (int32_t i = 0; e != NULL && i < n; i++) {
		free(e[i].word);
		free(e[i].label_text);
	}
	free(e);
}

static int32_t argmax(const float *x, int32_t n)
{
	int32_t best = 0;
	for (int32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* GPT-2's bytes_to_unicode, inverted: the byte a code point stands for in
 * byte-level BPE token strings, or -1. */
static int byte_of(int32_t cp)
{
	if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
		return (int)cp;
	if (cp < 256 || cp > 256 + 67)
		return -1;
	int n = 0; /* the (cp - 256)-th byte outside the printable ranges */
	for (int b = 0; b < 256; b++) {
		if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) ||
		    (b >= 0xae && b <= 0xff))
			continue;
		if (n++ == cp - 256)
			return b;
	}
	return -1;
}

/* In place: byte-level BPE characters back to the bytes they encode. */
static void bytelevel_decode(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = (unsigned char *)s;
	while (*r) {
		int32_t cp;
		size_t len;
		if (r[0] < 0x80) {
			cp = r[0];
			len = 1;
		} else if ((r[0] & 0xe0) == 0xc0 && r[1]) {
			cp = ((r[0] & 0x1f) << 6) | (r[1] & 0x3f);
			len = 2;
		} else {
			*w++ = *r++; /* not from the alphabet: keep as is */
			continue;
		}
		int b = byte_of(cp);
		if (b < 0) {
			memmove(w, r, len);
			w += len;
		} else {
			*w++ = (unsigned char)b;
		}
		r += len;
	}
	*w = '\0';
}

/* tokenizer.convert_tokens_to_string over n strings. */
static char *join_words(const char *const *words, const size_t *lens, int32_t n,
                        enum word_join join)
{
	size_t total = 1;
	for (int32_t i = 0; i < n; i++)
		total += lens[i] + 1;
	char *out = malloc(total), *p = out;
	if (out == NULL)
		return NULL;
	for (int32_t i = 0; i < n; i++) {
		const char *w = words[i];
		size_t len = lens[i];
		if (join == JOIN_WORDPIECE && i > 0 && len >= 2 && w[0] == '#' && w[1] == '#') {
			w += 2; /* " ##" -> "" */
			len -= 2;
		} else if (join == JOIN_WORDPIECE && i > 0) {
			*p++ = ' ';
		}
		memcpy(p, w, len);
		p += len;
	}
	*p = '\0';
	if (join == JOIN_SENTENCEPIECE) { /* U+2581 (e2 96 81) -> ' ' */
		char *r = out, *wr = out;
		while (*r) {
			if ((unsigned char)r[0] == 0xe2 && (unsigned char)r[1] == 0x96 &&
			    (unsigned char)r[2] == 0x81) {
				*wr++ = ' ';
				r += 3;
			} else {
				*wr++ = *r++;
			}
		}
		*wr = '\0';
	}
	if (join == JOIN_BYTELEVEL) { /* RobertaTokenizer: no strip */
		bytelevel_decode(out);
		return out;
	}
	/* .strip() */
	char *start = out;
	while (*start == ' ')
		start++;
	size_t n_out = strlen(start);
	while (n_out > 0 && start[n_out - 1] == ' ')
		n_out--;
	memmove(out, start, n_out);
	out[n_out] = '\0';
	return out;
}

static char *dup_label(const char *const *labels, int32_t i)
{
	return strdup(labels[i]);
}

/* aggregate_word: one word from its tokens toks[0..n). */
static int aggregate_word(const struct ner_token *toks, int32_t n, const char *const *labels,
                          int32_t n_labels, enum aggregation agg, enum word_join join,
                          struct ner_entity *out)
{
	const char *words[n];
	size_t lens[n];
	for (int32_t i = 0; i < n; i++) {
		words[i] = toks[i].word;
		lens[i] = toks[i].n_word;
	}
	memset(out, 0, sizeof(*out));
	out->word = join_words(words, lens, n, join);
	out->start = toks[0].start;
	out->end = toks[n - 1].end;
	out->index = -1;
	if (agg == AGG_FIRST) {
		out->label = argmax(toks[0].scores, n_labels);
		out->score = toks[0].scores[out->label];
	} else if (agg == AGG_MAX) {
		int32_t best = 0;
		float best_score = -1.0f;
		for (int32_t i = 0; i < n; i++) {
			float s = toks[i].scores[argmax(toks[i].scores, n_labels)];
			if (s > best_score) { /* max(): the first of equal maxima */
				best_score = s;
				best = i;
			}
		}
		out->label = argmax(toks[best].scores, n_labels);
		out->score = toks[best].scores[out->label];
	} else { /* AGG_AVERAGE */
		float avg[n_labels];
		for (int32_t k = 0; k < n_labels; k++) {
			double sum = 0.0;
			for (int32_t i = 0; i < n; i++)
				sum += toks[i].scores[k];
			avg[k] = (float)(sum / n);
		}
		out->label = argmax(avg, n_labels);
		out->score = avg[out->label];
	}
	out->label_text = dup_label(labels, out->label);
	return out->word != NULL && out->label_text != NULL ? 0 : STATUS_ENOMEM;
}

/* get_tag: ("B" | "I", tag); names without B-/I- count as I- continuations. */
static const char *get_tag(const char *name, char *bi)
{
	if ((name[0] == 'B' || name[0] == 'I') && name[1] == '-') {
		*bi = name[0];
		return name + 2;
	}
	*bi = 'I';
	return name;
}

/* group_sub_entities: entities[0..n) -> one entity_group. */
static int group_sub(const struct ner_entity *e, int32_t n, enum word_join join,
                     struct ner_entity *out)
{
	const char *words[n];
	size_t lens[n];
	double sum = 0.0;
	for (int32_t i = 0; i < n; i++) {
		words[i] = e[i].word;
		lens[i] = strlen(e[i].word);
		sum += e[i].score;
	}
	memset(out, 0, sizeof(*out));
	const char *name = e[0].label_text, *dash = strchr(name, '-');
	out->label_text = strdup(dash ? dash + 1 : name); /* split("-", 1)[-1] */
	out->label = e[0].label;
	out->score = (float)(sum / n);
	out->word = join_words(words, lens, n, join);
	out->start = e[0].start;
	out->end = e[n - 1].end;
	out->index = -1;
	return out->word != NULL && out->label_text != NULL ? 0 : STATUS_ENOMEM;
}

static int group_entities(struct ner_entity *e, int32_t n, enum word_join join,
                          struct ner_entity **out, int32_t *n_out)
{
	struct ner_entity *groups = calloc(n > 0 ? (size_t)n : 1, sizeof(*groups));
	int32_t n_groups = 0, first = 0;
	if (groups == NULL)
		return STATUS_ENOMEM;
	for (int32_t i = 1; i <= n; i++) {
		int same = 0;
		if (i < n) {
			char bi, last_bi;
			const char *tag = get_tag(e[i].label_text, &bi);
			const char *last = get_tag(e[i - 1].label_text, &last_bi);
			same = strcmp(tag, last) == 0 && bi != 'B';
		}
		if (same)
			continue;
		if (group_sub(e + first, i - first, join, &groups[n_groups++]) != 0) {
			ner_entities_free(groups, n_groups);
			return STATUS_ENOMEM;
		}
		first = i;
	}
	*out = groups;
	*n_out = n > 0 ? n_groups : 0;
	return 0;
}

int ner_aggregate(const struct ner_token *toks, int32_t n, const char *const *labels,
                  int32_t n_labels, enum aggregation agg, enum word_join join,
                  struct ner_entity **out, int32_t *n_out)
{
	struct ner_entity *ents = calloc(n > 0 ? (size_t)n : 1, sizeof(*ents));
	int32_t n_ents = 0;
	int rc = 0;
	if (ents == NULL)
		return STATUS_ENOMEM;
	if (agg == AGG_NONE || agg == AGG_SIMPLE) {
		for (int32_t i = 0; i < n; i++, n_ents++) {
			struct ner_entity *x = &ents[i];
			x->label = argmax(toks[i].scores, n_labels);
			x->score = toks[i].scores[x->label];
			x->label_text = dup_label(labels, x->label);
			x->word = strndup(toks[i].word, toks[i].n_word);
			x->start = toks[i].start;
			x->end = toks[i].end;
			x->index = toks[i].index;
			if (x->word == NULL || x->label_text == NULL)
				rc = STATUS_ENOMEM;
		}
	} else { /* aggregate_words */
		for (int32_t i = 0; i < n && rc == 0;) {
			int32_t j = i + 1;
			while (j < n && toks[j].is_subword)
				j++;
			rc = aggregate_word(toks + i, j - i, labels, n_labels, agg, join,
			                    &ents[n_ents++]);
			i = j;
		}
	}
	if (rc != 0 || agg == AGG_NONE) {
		if (rc != 0)
			ner_entities_free(ents, n_ents);
		*out = rc == 0 ? ents : NULL;
		*n_out = rc == 0 ? n_ents : 0;
		return rc;
	}
	rc = group_entities(ents, n_ents, join, out, n_out);
	ner_entities_free(ents, n_ents);
	return rc;
}

/* Characters (UTF-8 lead bytes) in s[0..n). */
static int32_t n_chars(const char *s, size_t n)
{
	int32_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

int ner_entities(const struct model *m, const char *text, size_t n_text, const struct encoding *enc,
                 float *logits, enum aggregation agg, struct ner_entity **out, int32_t *n_out)
{
	int32_t nl = m->n_labels;
	const char *labels[nl > 0 ? nl : 1];
	char fallback[nl > 0 ? nl : 1][24];
	for (int32_t i = 0; i < nl; i++) {
		labels[i] = model_label(m, i);
		if (labels[i] == NULL) {
			snprintf(fallback[i], sizeof(fallback[i]), "LABEL_%d", (int)i);
			labels[i] = fallback[i];
		}
	}
	int wordpiece = strcmp(m->tok->ops->name, "wordpiece") == 0;
	int spm = strcmp(m->tok->ops->name, "sentencepiece") == 0 ||
	          strcmp(m->tok->ops->name, "unigram") == 0; /* tokenizer.json's */
	struct ner_token *toks = calloc(enc->n > 0 ? (size_t)enc->n : 1, sizeof(*toks));
	if (toks == NULL)
		return STATUS_ENOMEM;
	int32_t n = 0;
	(void)n_text;
	for (int32_t t = 0; t < enc->n; t++) {
		float *row = logits + (size_t)t * (size_t)nl;
		softmax_rows(row, 1.0f, 1, (size_t)nl);
		if (enc->special[t])
			continue;
		struct ner_token *k = &toks[n++];
		const char *ref = text + enc->starts[t];
		size_t n_ref = (size_t)(enc->stops[t] - enc->starts[t]);
		k->word = tokenizer_id_to_token(m->tok, enc->ids[t]);
		k->n_word = k->word ? strlen(k->word) : 0;
		k->scores = row;
		k->start = n_chars(text, (size_t)enc->starts[t]);
		k->end = k->start + n_chars(ref, n_ref);
		k->index = t;
		if (wordpiece) /* a word-aware tokenizer: "##ing" is longer than "ing" */
			k->is_subword = n_chars(k->word, k->n_word) != k->end - k->start;
		else /* the pipeline's fallback heuristic */
			k->is_subword = enc->starts[t] > 0 && ref[-1] != ' ' && ref[0] != ' ';
		if (enc->ids[t] == m->tok->unk_id || k->word == NULL) {
			k->word = ref;
			k->n_word = n_ref;
			k->is_subword = 0;
		}
	}
	int rc = ner_aggregate(toks, n, labels, nl, agg,
	                       wordpiece ? JOIN_WORDPIECE
	                       : spm     ? JOIN_SENTENCEPIECE
	                                 : JOIN_BYTELEVEL,
	                       out, n_out);
	free(toks);
	return rc;
}
