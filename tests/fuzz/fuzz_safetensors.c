/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the safetensors reader (models/safetensors.c) on
 * arbitrary bytes: open (header, offsets, shapes), then every tensor looked
 * up with its own shape (F16/BF16 widening included) and every value read,
 * so a header that lies about its data is caught by ASan if the reader
 * trusts it.
 */
#include <string.h>

#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024] = "";
	int fd = fuzz_memfile(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	struct safetensors *st = NULL;
	int rc = safetensors_open(path, &st, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0] != '\0', "status %d without a message", rc);
	for (int i = 0; rc == 0 && i < st->n_tensors; i++) {
		const struct st_tensor *t = &st->tensors[i];
		const float *w = NULL;
		if (safetensors_get(st, t->name, NULL, 0, t->n_dims, t->shape, &w, err,
		                    sizeof(err)) != 0)
			continue;
		volatile float sum = 0.0f;
		for (int64_t k = 0; k < t->n_elems; k++)
			sum += w[k];
		(void)sum;
	}
	if (rc == 0)
		safetensors_close(st);
	close(fd);
	return 0;
}
