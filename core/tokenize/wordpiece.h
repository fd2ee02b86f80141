/*
 * BertTokenizer's algorithm: BasicTokenizer (clean text, CJK split, lower
 * case and accent stripping, punctuation split) then greedy longest-match
 * WordPiece with "##" continuation pieces.
 */
#ifndef SMOLSERVE_CORE_WORDPIECE_H
#define SMOLSERVE_CORE_WORDPIECE_H

#include "tokenizer.h"

struct wordpiece_opts {
	int do_lower_case;                /* default 1 */
	int strip_accents;                /* -1 = follow do_lower_case, 0, 1 */
	int tokenize_chinese_chars;       /* default 1 */
	int32_t max_input_chars_per_word; /* default 100 */
	/* Strings kept whole: split out of the raw text wherever they occur
	 * (as the slow tokenizer's added-tokens trie does for special tokens)
	 * and mapped to their vocab id, or [UNK]; also never split or
	 * lower-cased when a whole word equals one. tokenizer_load passes the
	 * special token strings here. The tokens of the five special ids are
	 * always treated so. Copied by wordpiece_create. */
	const char *const *never_split; /* (n_never_split) borrowed */
	size_t n_never_split;
};

/*
 * Takes ownership of vocab (on success and failure alike) and builds a
 * WordPiece tokenizer. Special ids are looked up by the token strings
 * [CLS] [SEP] [PAD] [UNK] [MASK] unless the caller overwrites them after.
 * 0 or a negative status; *out is set only on success.
 */
int wordpiece_create(struct vocab *vocab, const struct wordpiece_opts *opts, struct tokenizer **out,
                     char *err, size_t n_err);

#endif
