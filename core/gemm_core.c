/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which OpenBLAS kernel set this CPU should run (see gemm.h). OpenBLAS
 * picks its kernels from a table of CPU models fixed when it was built, so
 * a build older than the CPU falls back to a generic core: Debian 12's
 * 0.3.21 runs SSE3 "Prescott" kernels on Xeons of family 6 model 207,
 * a fifth of their AVX-512 speed. The CPU's features, read here from CPUID
 * and XGETBV, say what it can run whatever its model number.
 */
#include "gemm.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

void cpu_isa_detect(struct cpu_isa *out)
{
	unsigned a = 0, b = 0, c = 0, d = 0, max = 0;
	memset(out, 0, sizeof(*out));
	if (__get_cpuid(0, &max, &b, &c, &d) == 0)
		return;
	char vendor[13];
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = '\0';
	if (strcmp(vendor, "GenuineIntel") == 0)
		out->vendor = CPU_VENDOR_INTEL;
	else if (strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0)
		out->vendor = CPU_VENDOR_AMD;
	__get_cpuid(1, &a, &b, &c, &d);
	unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	if (family == 0x6 || family >= 0xf)
		model |= ((a >> 16) & 0xf) << 4;
	out->family = (int)family;
	out->model = (int)model;
	int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
	if (!osxsave || !avx || max < 7)
		return;
	unsigned long long xcr0 = xgetbv0();
	int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
	unsigned b7 = 0, c7 = 0, d7 = 0, a7 = 0;
	__cpuid_count(7, 0, a7, b7, c7, d7);
	int avx2 = (b7 >> 5) & 1;
	out->amx_bf16 = ((d7 >> 24) & 1) && ((d7 >> 22) & 1) && (xcr0 & 0x60000) == 0x60000;
	int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
	out->avx2_fma = ymm && avx2 && fma;
	out->avx512 = out->avx2_fma && zmm && f && dq && bw && vl;
	if (out->avx512 && a7 >= 1) {
		__cpuid_count(7, 1, a7, b7, c7, d7);
		out->avx512_bf16 = (a7 >> 5) & 1;
	}
}

/* 2: AVX-512 kernels, 1: AVX2 + FMA kernels, 0: older or generic. */
static int core_class(const char *name)
{
	static const char *const AVX512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
	static const char *const AVX2[] = {"Haswell", "Zen"};
	for (size_t i = 0; i < sizeof(AVX512) / sizeof(AVX512[0]); i++)
		if (strcmp(name, AVX512[i]) == 0)
			return 2;
	for (size_t i = 0; i < sizeof(AVX2) / sizeof(AVX2[0]); i++)
		if (strcmp(name, AVX2[i]) == 0)
			return 1;
	return 0;
}

const char *gemm_core_choose(const struct cpu_isa *cpu, const char *picked, char *reason,
                             size_t n_reason)
{
	static const char *const ISA[] = {"neither AVX2 + FMA nor AVX-512", "AVX2 + FMA",
	                                  "AVX-512 F/BW/DQ/VL"};
	int want = cpu->avx512 ? 2 : cpu->avx2_fma ? 1 : 0;
	int have = core_class(picked);
	const char *target = NULL;
	if (want > have)
		target = want == 2 ? "SkylakeX" : cpu->vendor == CPU_VENDOR_AMD ? "Zen" : "Haswell";
	if (target == NULL)
		snprintf(
		    reason, n_reason,
		    "OpenBLAS picked %s itself, which fits this CPU (family %d model %d, %s%s)",
		    picked, cpu->family, cpu->model, ISA[want], cpu->avx512_bf16 ? " + BF16" : "");
	else
		snprintf(reason, n_reason,
		         "OpenBLAS picked %s, older than this CPU (family %d model %d, %s%s) "
		         "supports: %s kernels instead",
		         picked, cpu->family, cpu->model, ISA[want],
		         cpu->avx512_bf16 ? " + BF16" : "", target);
	return target;
}

static struct gemm_core_report report = {"kept", "", "", "not decided (no start-up choice ran)"};

void gemm_core_report_set(const struct gemm_core_report *r)
{
	report = *r;
}

const struct gemm_core_report *gemm_core_report(void)
{
	return &report;
}
