/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: config.json parsing (models/hf_config.c) on arbitrary
 * bytes, through the same path a model folder takes (a file the loader
 * opens). Accepted or refused, never a crash, a leak or a read out of
 * bounds; a refusal carries a message.
 */
#include <string.h>

#include "fuzz_util.h"
#include "hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024] = "";
	int fd = fuzz_memfile(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	struct hf_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	int rc = hf_config_load(path, &cfg, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0] != '\0', "status %d without a message", rc);
	if (rc == 0)
		hf_config_dispose(&cfg);
	close(fd);
	return 0;
}
