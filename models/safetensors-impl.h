/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What safetensors.c shares with safetensors_index.c: building one
 * safetensors object out of several mapped files.
 */
#ifndef SMOLSERVE_MODELS_SAFETENSORS_IMPL_H
#define SMOLSERVE_MODELS_SAFETENSORS_IMPL_H

#include "safetensors.h"

/* An empty object (no files, no tensors) named path; NULL if out of
 * memory. Release with safetensors_close. */
struct safetensors *safetensors_alloc(const char *path);

/*
 * Maps path, validates its header and appends its tensors to st's table
 * (tensor.file = the new file's index). On failure st stays consistent
 * (safetensors_close releases whatever was added) and err names path.
 */
int safetensors_add_file(struct safetensors *st, const char *path, char *err, size_t n_err);

#endif
