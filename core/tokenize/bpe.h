/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte-level BPE as GPT-2 and RoBERTa use it (vocab.json + merges.txt): the
 * GPT-2 pre-tokenisation pattern, the byte-to-unicode alphabet, merges by
 * rank, and offsets back into the original bytes.
 */
#ifndef SMOLSERVE_CORE_BPE_H
#define SMOLSERVE_CORE_BPE_H

#include <stddef.h>

#include "tokenizer.h"

struct bpe_opts {
	int add_prefix_space; /* RobertaTokenizer default 0 */
};

/*
 * Builds a byte-level BPE tokenizer from vocab (vocab.json's tokens in id
 * order, read by models/tokenizer_load.c; taken over on success and on
 * failure alike) and the text of merges.txt (a "#version" line, then one
 * "a b" pair per line, highest priority first; read, not kept). Special ids
 * are looked up by <s> </s> <pad> <unk> <mask>; template TEMPLATE_ROBERTA.
 * 0 or STATUS_EFORMAT (err names file and line), STATUS_ENOMEM.
 */
int bpe_create(struct vocab *vocab, const char *merges, size_t n_merges,
               const struct bpe_opts *opts, struct tokenizer **out, char *err, size_t n_err);

#endif
