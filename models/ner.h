/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token classification as Hugging Face's TokenClassificationPipeline
 * (transformers 4.31, pipelines/token_classification.py) reports it: per
 * token softmax scores, then one of its aggregation strategies (none,
 * simple, first, average, max) grouping sub-words into words and B-/I-
 * tagged words into entities. Plain C: the JSON is the codec's business.
 */
#ifndef SMOLSERVE_MODELS_NER_H
#define SMOLSERVE_MODELS_NER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

enum aggregation { AGG_NONE = 0, AGG_SIMPLE, AGG_FIRST, AGG_AVERAGE, AGG_MAX };

/* "none", "simple", ... -> strategy; -1 if unknown. */
int aggregation_from_name(const char *name);

/* How token strings join into a word (convert_tokens_to_string). */
enum word_join {
	JOIN_WORDPIECE = 0, /* " ".join, then " ##" -> "" */
	JOIN_SENTENCEPIECE, /* concatenate, U+2581 -> " ", strip */
	JOIN_BYTELEVEL,     /* "".join, then GPT-2's byte alphabet back to UTF-8 */
};

/* One non-special token, as gather_pre_entities makes it. */
struct ner_token {
	const char *word; /* token string, or the text under it for [UNK] */
	size_t n_word;
	const float *scores; /* (n_labels) softmax */
	int32_t start, end;  /* character offsets into the text */
	int32_t index;       /* token index in the encoding */
	int is_subword;
};

/* One answer row: "entity" (none) or "entity_group" (other strategies). */
struct ner_entity {
	int32_t label;    /* index into id2label; for groups the B-/I- stripped tag is label_text */
	char *label_text; /* owned: entity or entity_group */
	float score;
	char *word; /* owned */
	int32_t start, end;
	int32_t index; /* token index for AGG_NONE, else -1 */
};

/*
 * Aggregates toks[0..n) (scores (n_labels) each, labels[i] the id2label
 * names) per strategy into *out (owned; ner_entities_free). 0 or
 * STATUS_ENOMEM.
 */
int ner_aggregate(const struct ner_token *toks, int32_t n, const char *const *labels,
                  int32_t n_labels, enum aggregation agg, enum word_join join,
                  struct ner_entity **out, int32_t *n_out);

/*
 * The whole pipeline for one encoded text: softmax of logits (enc->n,
 * n_labels) in place, pre-entities from the encoding (offsets turned into
 * character offsets of text), aggregation. 0 or a negative status.
 */
int ner_entities(const struct model *m, const char *text, size_t n_text, const struct encoding *enc,
                 float *logits, enum aggregation agg, struct ner_entity **out, int32_t *n_out);

void ner_entities_free(struct ner_entity *e, int32_t n);

#endif
