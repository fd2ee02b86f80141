/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Hugging Face fixture folders under tests/fixtures/ that carry an
 * expected.json from transformers: every architecture and head the project
 * checks for exactness. The library test (test_model_fixtures.c), the
 * classic tokenizers' test (test_tokenizer_fixtures.c) and the end-to-end
 * test (test_families.c) walk this one list, so a new folder is checked
 * through all three (test_tokenizer_fixtures.c fails if a folder with an
 * expected.json is missing from it).
 */
#ifndef SMOLSERVE_TESTS_FIXTURE_FOLDERS_H
#define SMOLSERVE_TESTS_FIXTURE_FOLDERS_H

static const char *const FOLDERS[] = {
    "bert",
    "bert-seqcls",
    "bert-tokcls",
    "bert-mlm",
    "distilbert",
    "distilbert-seqcls",
    "electra",
    "electra-seqcls",
    "mobilebert",
    "mobilebert-seqcls",
    "roberta",
    "roberta-seqcls",
    "xlm-roberta",
    "albert",
    "albert-seqcls",
    "mpnet",
    "mpnet-seqcls",
    "deberta-v2",
    "deberta-v2-seqcls",
    "deberta-v2-logbuckets",
    "modernbert",
    "modernbert-seqcls",
    "bert-rerank",
};
#define N_FOLDERS (int)(sizeof(FOLDERS) / sizeof(FOLDERS[0]))

#endif
