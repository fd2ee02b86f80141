/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between the two halves of the SentencePiece tokenizer:
 * sentencepiece_model.c is the sentencepiece library (the ModelProto
 * reader, the normaliser, unigram Viterbi and BPE), sentencepiece.c is the
 * Hugging Face tokenizer class around it (special tokens in the text,
 * AlbertTokenizer's preprocessing, id spaces, decoding). Text travels
 * between stages as a struct ntext: bytes, each with the byte span
 * [from, to) of the original character it came from.
 */
#ifndef SMOLSERVE_CORE_SENTENCEPIECE_IMPL_H
#define SMOLSERVE_CORE_SENTENCEPIECE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ntext.h"
#include "tokenizer.h"

/* ModelProto.SentencePiece.Type */
enum spm_piece_type {
	SPM_PIECE_NORMAL = 1,
	SPM_PIECE_UNKNOWN = 2,
	SPM_PIECE_CONTROL = 3,
	SPM_PIECE_USER_DEFINED = 4,
	SPM_PIECE_UNUSED = 5,
	SPM_PIECE_BYTE = 6,
};

/* TrainerSpec.ModelType */
enum spm_model_type {
	SPM_MODEL_UNIGRAM = 1,
	SPM_MODEL_BPE = 2,
	SPM_MODEL_WORD = 3,
	SPM_MODEL_CHAR = 4,
};

/* One edge of the piece trie: node --byte--> child (open hash slot). */
struct spm_edge {
	int32_t node; /* -1: empty slot */
	int32_t child;
	uint8_t byte;
};

/* A precompiled character map (NormalizerSpec.precompiled_charsmap): a
 * darts-clone double array whose values index replacement strings. Also
 * tokenizer.json's Precompiled normalizer. */
struct spm_charsmap {
	uint32_t *units; /* (n_units) owned, host order */
	uint32_t n_units;
	char *replacements; /* (n_replacements) owned, last byte NUL */
	size_t n_replacements;
};

/* Everything read from a model file; read-only after spm_model_parse. */
struct spm_model {
	struct vocab pieces; /* every piece in the file's id space */
	float *scores;       /* (n pieces) owned */
	uint8_t *types;      /* (n pieces) owned: enum spm_piece_type */
	int model_type;      /* enum spm_model_type */
	int32_t unk_id;      /* the one UNKNOWN piece */
	int byte_fallback;
	int32_t byte_ids[256];        /* <0xXX> piece ids, unk_id where missing */
	float min_score, max_score;   /* over NORMAL pieces */
	double *dscores;              /* (n pieces) owned: Hugging Face's Unigram, else NULL */
	double dmin_score;            /* over all pieces, with dscores */
	char *unk_surface;            /* owned: what decode prints for <unk> */
	struct spm_charsmap charsmap; /* the normaliser's rules */
	int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
	/* trie of the matchable pieces (NORMAL, USER_DEFINED, UNUSED) */
	int32_t *node_piece; /* (n_nodes) owned: piece id ending here or -1 */
	uint32_t n_nodes;
	struct spm_edge *edges; /* (n_edge_slots) owned, power of two */
	uint32_t n_edge_slots;
	int has_user_defined;
};

enum spm_tok_kind { SPM_TOK_PIECE = 0, SPM_TOK_UNK, SPM_TOK_BYTE };

/* One output piece: bytes [begin, end) of the normalised text. For
 * SPM_TOK_UNK the piece string is that surface (runs of unknowns merged);
 * for SPM_TOK_BYTE it is "<0xXX>" of byte s[begin]. */
struct spm_tok {
	int32_t begin, end;
	int32_t id; /* in the model's id space */
	int32_t kind;
};

struct spm_toks {
	struct spm_tok *v; /* (cap) owned */
	size_t n, cap;
};

/* Per-call scratch of spm_encode; reused between calls on one thread. */
struct spm_work {
	void *buf; /* (n_buf bytes) owned */
	size_t n_buf;
	struct spm_toks raw;
};

/* Slot of edge (node, byte) in the open hash of trie edges. */
static inline uint32_t spm_edge_hash(int32_t node, uint8_t byte)
{
	uint32_t h = ((uint32_t)node * 256u + byte) * 2654435761u;
	return h ^ (h >> 15);
}

/* The child of trie node `node` (root 0) by `byte`, or -1. */
static inline int32_t spm_trie_child(const struct spm_model *m, int32_t node, uint8_t byte)
{
	uint32_t mask = m->n_edge_slots - 1;
	for (uint32_t i = spm_edge_hash(node, byte) & mask;; i = (i + 1) & mask) {
		const struct spm_edge *e = &m->edges[i];
		if (e->node < 0)
			return -1;
		if (e->node == node && e->byte == byte)
			return e->child;
	}
}

/* 1 for the piece types the models match (model_interface.cc's pieces_). */
static inline int spm_matchable(const struct spm_model *m, int32_t id)
{
	int type = m->types[id];
	return type == SPM_PIECE_NORMAL || type == SPM_PIECE_USER_DEFINED ||
	       type == SPM_PIECE_UNUSED;
}

/* Parses a ModelProto (the bytes are copied where kept). 0, STATUS_EFORMAT
 * (err says which field at which byte offset), STATUS_EUNSUPPORTED,
 * STATUS_ENOMEM. On failure m is disposed. */
int spm_model_parse(struct spm_model *m, const uint8_t *p, size_t n, char *err, size_t n_err);
void spm_model_dispose(struct spm_model *m);

/*
 * A model from tokenizer.json's Unigram instead of a file: pieces (taken
 * over, also on failure) with their double scores, every piece matchable
 * (unk_id too, as Hugging Face's trie holds every piece), unk_id -1 for
 * none. Encode with spm_unigram_viterbi. 0, STATUS_EFORMAT or STATUS_ENOMEM.
 */
int spm_model_from_vocab(struct spm_model *m, struct vocab *pieces, const double *scores,
                         int32_t unk_id, char *err, size_t n_err);

/* Piece id of the n bytes at s (any type) or -1. Any thread. */
int32_t spm_model_find(const struct spm_model *m, const char *s, size_t n);

/* Decodes a precompiled_charsmap blob (uint32 LE trie size, the trie's
 * uint32 LE units, NUL-terminated replacements) into cm; n == 0 is the
 * empty map. 0, STATUS_EFORMAT ("precompiled_charsmap is broken ...") or
 * STATUS_ENOMEM; on failure cm is disposed. */
int spm_charsmap_parse(struct spm_charsmap *cm, const uint8_t *p, size_t n, char *err,
                       size_t n_err);
void spm_charsmap_dispose(struct spm_charsmap *cm);

/* darts-clone commonPrefixSearch of s[0, n) in the map: 0 if no rule
 * matches a prefix, else the length matched, *value the replacement's
 * index. shortest = 0: the longest of the first 32 results, as
 * sentencepiece's NormalizePrefix; 1: the first (shortest) result with the
 * search stopping at a NUL byte, as Hugging Face's Precompiled. */
size_t spm_charsmap_match(const struct spm_charsmap *cm, const uint8_t *s, size_t n, int shortest,
                          uint32_t *value);

void spm_toks_dispose(struct spm_toks *t);
void spm_work_dispose(struct spm_work *w);

/*
 * sentencepiece's Normalizer::Normalize of in->s[from, to) into out (reset
 * first): the precompiled charsmap (longest match), leading, trailing and
 * repeated whitespace removed, the dummy prefix, ' ' -> U+2581. Spans are
 * carried over; the dummy prefix gets the empty span before the first
 * character. 0 or STATUS_ENOMEM. Any thread on a const model.
 */
int spm_normalize(const struct spm_model *m, const struct ntext *in, size_t from, size_t to,
                  struct ntext *out);

/*
 * Segments a normalised text into toks (reset first) as
 * SentencePieceProcessor::Encode does: unigram Viterbi or BPE merges, then
 * runs of unknown pieces merged (or, with byte_fallback, split into byte
 * pieces). 0 or STATUS_ENOMEM.
 */
int spm_encode(const struct spm_model *m, const struct ntext *norm, struct spm_toks *toks,
               struct spm_work *w);

/*
 * The unigram model's best segmentation of s[0, n) (EncodeOptimized) into
 * w->raw: pieces with their ids, unknown characters one piece each with
 * unk_id. 0, STATUS_ENOMEM, or STATUS_ETOKENIZER for an unknown character
 * when a Hugging Face model has no unk_id. Any thread on a const model.
 */
int spm_unigram_viterbi(const struct spm_model *m, const uint8_t *s, size_t n, struct spm_work *w);

/* "<0xXX>" (upper-case hex) -> XX, else -1: PieceToByte. */
int spm_piece_to_byte(const char *s);

/* sentencepiece's DecodeUTF8 validity: length of the valid UTF-8
 * character at s[0, n), or 0 if invalid (one byte then reads as U+FFFD). */
size_t spm_valid_char_len(const uint8_t *s, size_t n);

/* Length of the UTF-8 character led by byte c, as sentencepiece's
 * OneCharLen (1 for continuation and invalid bytes). */
static inline int spm_char_len(uint8_t c)
{
	static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
	return len[c >> 4];
}

#endif
