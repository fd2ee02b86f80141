/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU budget detection (see cpus.h). Containers limit CPUs in two ways: an
 * affinity mask (cpusets) and a CFS quota (cgroup v2 cpu.max). Both are
 * read so a pod limited to 2 CPUs on a 64-core node runs 2 threads, not 64.
 */
#include "cpus.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm.h"

static double cgroup_quota(void)
{
	char buf[128];
	FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
	if (f == NULL)
		return 0.0;
	double quota = 0.0;
	long long q, period;
	if (fgets(buf, sizeof(buf), f) != NULL && sscanf(buf, "%lld %lld", &q, &period) == 2 &&
	    q > 0 && period > 0)
		quota = (double)q / (double)period;
	fclose(f);
	return quota;
}

int cpus_usable(struct thread_layout *out)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	out->affinity_cpus = n;
	out->quota_cpus = cgroup_quota();
	if (out->quota_cpus > 0.0) {
		int q = (int)ceil(out->quota_cpus - 1e-9);
		if (q < 1)
			q = 1;
		if (q < n)
			n = q;
	}
	out->cpus = n;
	return n;
}

int cpus_layout(struct thread_layout *l, int want_workers, int want_blas, char *err,
                unsigned long n_err)
{
	int cpus = l->cpus > 0 ? l->cpus : 1;
	int workers = want_workers > 0 ? want_workers : 1;
	int blas = want_blas > 0 ? want_blas : cpus / workers;
	if (blas < 1)
		blas = 1;
	if (workers * blas > cpus) {
		snprintf(err, n_err,
		         "%d workers x %d BLAS threads = %d threads exceeds the %d usable CPUs",
		         workers, blas, workers * blas, cpus);
		return -1;
	}
	l->workers = workers;
	l->blas_threads = blas;
	return 0;
}

static unsigned long long loaded_rss;

int memory_usage(unsigned long long *rss_bytes, unsigned long long *peak_bytes)
{
	char line[256];
	unsigned long long rss = 0, peak = 0;
	int found = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &rss) == 1 ||
		    sscanf(line, "VmHWM: %llu kB", &peak) == 1)
			found++;
	}
	fclose(f);
	*rss_bytes = rss * 1024;
	*peak_bytes = peak * 1024;
	return found == 2 ? 0 : -1;
}

void memory_mark_loaded(void)
{
	unsigned long long peak;
	if (memory_usage(&loaded_rss, &peak) != 0)
		loaded_rss = 0;
}

unsigned long long memory_after_load(void)
{
	return loaded_rss;
}

/* --- OpenBLAS kernels (server/main.c says why) --------------------------- */

/* Set by smolserve on the process it re-executes: the core OpenBLAS had
 * picked by itself. */
#define REEXEC_MARK "SMOLSERVE_OPENBLAS_REEXEC"
/* For tests only: pretend OpenBLAS picked this core (e.g. "Prescott"), to
 * exercise the re-exec on a machine where OpenBLAS picks well. */
#define TEST_PICKED "SMOLSERVE_TEST_OPENBLAS_PICKED"

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

void blas_kernels_choose(char **argv, int enabled)
{
	struct gemm_core_report r;
	struct cpu_isa cpu;
	const char *user = getenv("OPENBLAS_CORETYPE"), *mark = getenv(REEXEC_MARK);
	memset(&r, 0, sizeof(r));
	cpu_isa_detect(&cpu);
	copy_str(r.in_use, sizeof(r.in_use), gemm_corename());
	if (mark != NULL) {
		const char *want = gemm_core_choose(&cpu, mark, r.reason, sizeof(r.reason));
		copy_str(r.picked, sizeof(r.picked), mark);
		copy_str(r.action, sizeof(r.action), "set");
		if (want == NULL || strcmp(want, r.in_use) != 0) {
			copy_str(r.action, sizeof(r.action), "failed");
			snprintf(
			    r.reason, sizeof(r.reason),
			    "OPENBLAS_CORETYPE=%s was set after OpenBLAS picked %s, but it runs "
			    "%s",
			    user != NULL ? user : "?", mark, r.in_use);
		}
		unsetenv(REEXEC_MARK);
	} else if (user != NULL) {
		copy_str(r.action, sizeof(r.action), "user");
		snprintf(r.reason, sizeof(r.reason),
		         "OPENBLAS_CORETYPE=%s is set in the environment: never overridden", user);
	} else if (!enabled) {
		copy_str(r.action, sizeof(r.action), "off");
		copy_str(r.picked, sizeof(r.picked), r.in_use);
		copy_str(r.reason, sizeof(r.reason),
		         "--blas-kernel-choice is false: OpenBLAS's own pick is kept");
	} else {
		const char *test = getenv(TEST_PICKED);
		copy_str(r.picked, sizeof(r.picked), test != NULL ? test : r.in_use);
		const char *want = gemm_core_choose(&cpu, r.picked, r.reason, sizeof(r.reason));
		copy_str(r.action, sizeof(r.action), "kept");
		if (want != NULL) {
			fprintf(stderr, "smolserve: %s; restarting with OPENBLAS_CORETYPE=%s\n",
			        r.reason, want);
			fflush(stderr);
			setenv("OPENBLAS_CORETYPE", want, 1);
			setenv(REEXEC_MARK, r.picked, 1);
			execv("/proc/self/exe", argv);
			int e = errno; /* still here: run with what OpenBLAS picked */
			unsetenv("OPENBLAS_CORETYPE");
			unsetenv(REEXEC_MARK);
			copy_str(r.action, sizeof(r.action), "failed");
			snprintf(r.reason + strlen(r.reason), sizeof(r.reason) - strlen(r.reason),
			         "; restarting failed (%s)", strerror(e));
		}
	}
	if (strcmp(r.action, "set") == 0 || strcmp(r.action, "failed") == 0)
		fprintf(stderr, "smolserve: OpenBLAS kernels %s (%s): %s\n", r.in_use, r.action,
		        r.reason);
	gemm_core_report_set(&r);
}
