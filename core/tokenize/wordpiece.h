/* SPDX-License-Identifier: Apache-2.0 */
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

/*
 * The WordPiece model itself, shared with tokenizer.json's WordPiece:
 * greedy longest match over the n characters of a word, each piece after
 * the first looked up with prefix (n_prefix bytes, e.g. "##") in front.
 * buf holds n_prefix bytes of room, then the word's UTF-8, which the prefix
 * overwrites as the match moves on; bpos[i] is where character i starts in
 * the word, bpos[n] its length. Keys longer than max_token_bytes are not
 * looked up. piece(ctx, id, first, end) is called for each piece, characters
 * [first, end). Returns 0; 1 if some position matches nothing (the pieces
 * reported so far are the caller's to drop: the word is unknown); or a
 * non-zero value piece returned, which stops it. Any thread.
 */
int wordpiece_greedy(const struct vocab *v, size_t max_token_bytes, const char *prefix,
                     size_t n_prefix, char *buf, const uint32_t *bpos, int32_t n,
                     int (*piece)(void *ctx, int32_t id, int32_t first, int32_t end), void *ctx);

#endif
