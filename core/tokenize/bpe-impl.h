/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BPE merge engine shared by the byte-level BPE of vocab.json +
 * merges.txt (bpe.c) and tokenizer.json's BPE model (model.c): a hash of
 * merge rules on pairs of symbol ids, and the merging of one word's symbols
 * by rank, either in GPT2Tokenizer's rounds or as Hugging Face tokenizers'
 * Word::merge_all. Also GPT-2's byte alphabet and a lossy UTF-8 decoder.
 * Private to core/tokenize/.
 */
#ifndef SMOLSERVE_CORE_TOKENIZE_BPE_IMPL_H
#define SMOLSERVE_CORE_TOKENIZE_BPE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#define BPE_NONE UINT32_MAX

/* A merge rule: symbols (a, b) become ab, at rank. */
struct bpe_merge {
	uint32_t a, b; /* a == BPE_NONE: empty slot */
	uint32_t ab;
	int32_t rank;
};

/* The rules: an open hash on (a, b). Read-only once built. */
struct bpe_merges {
	struct bpe_merge *slots; /* (n_slots) owned */
	uint32_t n_slots;        /* power of two */
};

/* One symbol of a word being merged. */
struct bpe_sym {
	uint32_t str;        /* symbol id; BPE_NONE once merged away */
	int32_t start, stop; /* the caller's offsets of what it covers */
	int32_t prev, next;  /* neighbours, set by bpe_merge_word */
};

/* A pair that may merge: symbols pos and its next, (a, b) -> ab at rank. */
struct bpe_cand {
	int32_t rank, pos;
	uint32_t a, b, ab;
};

/* Per-call scratch for words of up to cap symbols. */
struct bpe_scratch {
	struct bpe_sym *sym;   /* (cap) */
	struct bpe_cand *heap; /* (3 cap): n - 1 pairs, then 2 per merge */
	struct bpe_cand *pend; /* (2 cap): pairs ranked before the round's */
	size_t cap, n_heap, n_pend;
};

/* Room for about n_merges rules. 0 or STATUS_ENOMEM. */
int bpe_merges_init(struct bpe_merges *m, size_t n_merges);
void bpe_merges_dispose(struct bpe_merges *m);
/* Adds (a, b) -> ab at rank; a pair already present takes the new rule.
 * At most n_merges (of init) distinct pairs. */
void bpe_merges_put(struct bpe_merges *m, uint32_t a, uint32_t b, uint32_t ab, int32_t rank);
const struct bpe_merge *bpe_merges_find(const struct bpe_merges *m, uint32_t a, uint32_t b);

/* Room for n symbols. 0 or STATUS_ENOMEM (then cap is 0). */
int bpe_scratch_reserve(struct bpe_scratch *s, size_t n);
void bpe_scratch_dispose(struct bpe_scratch *s);

/*
 * Merges s->sym[0, n) (str, start, stop filled by the caller) in place:
 * afterwards the live symbols are those with str != BPE_NONE, linked from
 * 0 through next, each covering [start, stop) of the merged ones. rounds
 * != 0: GPT2Tokenizer.bpe's rounds; 0: Word::merge_all. Any thread.
 */
void bpe_merge_word(const struct bpe_merges *m, struct bpe_scratch *s, int32_t n, int rounds);

/* GPT-2's bytes_to_unicode: the code point standing for byte b, and the
 * byte cp stands for (-1 if none). */
int32_t bpe_byte_cp(uint8_t b);
int bpe_cp_byte(int32_t cp);

/* UTF-8 decoding with errors replaced (Python's errors="replace", Rust's
 * from_utf8_lossy) of s[0, n) into out (room for 3n); the length. */
size_t bpe_utf8_replace(const uint8_t *s, size_t n, char *out);

#endif
