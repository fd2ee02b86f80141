/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How many CPUs this process may really use (affinity mask and cgroup v2
 * cpu.max quota), and the thread layout derived from it: workers x BLAS
 * threads never exceeds that count. Also how much memory it holds, and
 * which OpenBLAS kernels it should run.
 */
#ifndef SMOLSERVE_SERVER_CPUS_H
#define SMOLSERVE_SERVER_CPUS_H

struct thread_layout {
	int cpus;          /* usable CPUs */
	int affinity_cpus; /* CPUs in the affinity mask */
	double quota_cpus; /* cgroup cpu.max quota / period; 0 = none */
	int workers;
	int blas_threads;
};

/* Usable CPUs: min(affinity mask, ceil(cgroup quota)), at least 1. */
int cpus_usable(struct thread_layout *out);

/*
 * Fills workers and blas_threads from the requested values (0 = derive).
 * Derived: one worker with every usable CPU for BLAS; a requested worker
 * count gets cpus / workers BLAS threads (at least 1). Returns 0, or -1 if
 * workers x BLAS threads would exceed the usable CPUs (err says so).
 */
int cpus_layout(struct thread_layout *l, int want_workers, int want_blas, char *err,
                unsigned long n_err);

/*
 * The OpenBLAS kernel choice, first thing in main (see server/main.c): if
 * OPENBLAS_CORETYPE is unset, enabled, and OpenBLAS picked older kernels
 * than CPUID says the CPU runs, sets OPENBLAS_CORETYPE and executes
 * /proc/self/exe with argv again (so it returns only when no re-exec
 * happened, or when it failed). Fills gemm_core_report for the start line
 * and /info; says on stderr when it changed something. Before any thread
 * starts.
 */
void blas_kernels_choose(char **argv, int enabled);

/*
 * This process's resident memory (VmRSS) and its peak so far (VmHWM), in
 * bytes, from /proc/self/status. 0 and both filled, or -1 if unreadable.
 * Any thread.
 */
int memory_usage(unsigned long long *rss_bytes, unsigned long long *peak_bytes);

/* Records the current resident memory as "after load" (call once the
 * model is loaded and the workers have their scratch); memory_after_load
 * returns it (0 before). */
void memory_mark_loaded(void);
unsigned long long memory_after_load(void);

#endif
