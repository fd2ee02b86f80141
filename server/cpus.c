/*
 * CPU budget detection (see cpus.h). Containers limit CPUs in two ways: an
 * affinity mask (cpusets) and a CFS quota (cgroup v2 cpu.max). Both are
 * read so a pod limited to 2 CPUs on a 64-core node runs 2 threads, not 64.
 */
#include "cpus.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

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
