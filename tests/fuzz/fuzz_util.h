/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the libFuzzer targets share: fixture folders (FUZZ_FIXTURES, set by
 * tests/fuzz/meson.build to the source tree's tests/fixtures), a file whose
 * path the loaders can open holding the fuzz input (an anonymous memfd, so
 * nothing touches the disk), and a fatal check that makes libFuzzer report
 * a finding. Header-only: each target is one translation unit.
 */
#ifndef SMOLSERVE_TESTS_FUZZ_UTIL_H
#define SMOLSERVE_TESTS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_FIXTURES
#error "FUZZ_FIXTURES must name the tests/fixtures folder"
#endif

/* Aborts (a libFuzzer finding) with a message unless cond holds. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz check failed: %s: ", #cond);                         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* FUZZ_FIXTURES/name into a static buffer (overwritten by the next call). */
static inline const char *fuzz_fixture(const char *name)
{
	static char path[4096];
	snprintf(path, sizeof(path), "%s/%s", FUZZ_FIXTURES, name);
	return path;
}

/* An anonymous file holding data[0, n); its path (/proc/self/fd/N) goes to
 * path. Returns the descriptor (close it after use) or -1. */
static inline int fuzz_memfile(const uint8_t *data, size_t n, char *path, size_t n_path)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < n;) {
		ssize_t k = write(fd, data + off, n - off);
		if (k <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)k;
	}
	snprintf(path, n_path, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
