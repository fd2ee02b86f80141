/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the suites about sharded checkpoints share (test_sharded.c,
 * test_hub.c): making a sharded copy of a fixture with
 * tests/models/split_safetensors.py, and requiring two models to compute
 * the very same bytes. Functions assert (Check), so call them from the
 * test's own thread.
 */
#ifndef SMOLSERVE_TESTS_MODELS_SHARDED_UTIL_H
#define SMOLSERVE_TESTS_MODELS_SHARDED_UTIL_H

#include <stddef.h>

#include "model.h"

/* Splits fixture into n shards in a new temporary folder (its path into
 * dir, n_dir bytes; 64 are enough). */
void split_fixture(const char *fixture, int n, char *dir, size_t n_dir);

/* Splits the folder src (any path) into n shards in the existing or new
 * folder dst. */
void split_folder(const char *src, const char *dst, int n);

/* rm -rf dir. */
void remove_dir(const char *dir);

/* Runs every case of fixture's expected.json through a and b: the last
 * hidden states (and logits, with a head) must be identical bytes. */
void assert_same_outputs(const char *fixture, const struct model *a, const struct model *b);

#endif
