/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the tokenizer loaders (tokenizer_load.c): reading the files of
 * a model folder. Each returns 0 or a STATUS_* code with a message in err
 * naming the file.
 */
#ifndef SMOLSERVE_MODELS_TOKENIZER_FILES_H
#define SMOLSERVE_MODELS_TOKENIZER_FILES_H

#include <stddef.h>

#include <jansson.h>

#include "tokenizer.h"

/* 1 if dir/name is a regular file. */
int tok_file_exists(const char *dir, const char *name);

/* Reads dir/name whole into *buf (malloc'd, NUL-terminated; *n bytes). */
int tok_read_file(const char *dir, const char *name, char **buf, size_t *n, char *err,
                  size_t n_err);

/* Parses dir/name into *out (a new reference to a JSON object), or sets
 * *out = NULL if the file is absent. */
int tok_json_read_opt(const char *dir, const char *name, json_t **out, char *err, size_t n_err);

/* vocab.txt into v: one token a line, line ends \n, \r\n or \r (Python's
 * universal newlines, as load_vocab reads it); nothing else is stripped.
 * On failure v is disposed of. */
int tok_read_vocab_txt(const char *dir, struct vocab *v, char *err, size_t n_err);

#endif
