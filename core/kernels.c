/*
 * Element-wise and row-wise kernels of the encoder (see kernels.h). Each
 * names the PyTorch / Hugging Face function it mirrors; tests check them
 * against straightforward double-precision references.
 */
#include "kernels.h"

#include <math.h>

void add_bias_rows(float *x, const float *b, size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * n;
		for (size_t i = 0; i < n; i++)
			row[i] += b[i];
	}
}

/* torch.nn.LayerNorm: (x - mean) / sqrt(var + eps) * gamma + beta. */
void layer_norm_rows(float *x, const float *residual, const float *gamma, const float *beta,
                     float eps, size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * n;
		if (residual != NULL) {
			const float *res = residual + r * n;
			for (size_t i = 0; i < n; i++)
				row[i] += res[i];
		}
		float sum = 0.0f;
		for (size_t i = 0; i < n; i++)
			sum += row[i];
		float mean = sum / (float)n;
		float var = 0.0f;
		for (size_t i = 0; i < n; i++) {
			float d = row[i] - mean;
			var += d * d;
		}
		var /= (float)n;
		float inv = 1.0f / sqrtf(var + eps);
		for (size_t i = 0; i < n; i++)
			row[i] = (row[i] - mean) * inv * gamma[i] + beta[i];
	}
}

/* transformers.activations: GELUActivation (erf), NewGELUActivation (tanh). */
void activation_apply(float *x, size_t n, enum activation act)
{
	switch (act) {
	case ACT_NONE:
		break;
	case ACT_GELU:
		for (size_t i = 0; i < n; i++)
			x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
		break;
	case ACT_GELU_TANH:
		for (size_t i = 0; i < n; i++) {
			float v = x[i];
			float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
			x[i] = 0.5f * v * (1.0f + tanhf(inner));
		}
		break;
	case ACT_RELU:
		for (size_t i = 0; i < n; i++)
			x[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case ACT_TANH:
		for (size_t i = 0; i < n; i++)
			x[i] = tanhf(x[i]);
		break;
	}
}

/* torch.softmax(scores * scale, dim=-1). */
void softmax_rows(float *x, float scale, size_t n_rows, size_t n)
{
	for (size_t r = 0; r < n_rows; r++) {
		float *row = x + r * n;
		float max = -INFINITY;
		for (size_t i = 0; i < n; i++) {
			row[i] *= scale;
			if (row[i] > max)
				max = row[i];
		}
		float sum = 0.0f;
		for (size_t i = 0; i < n; i++) {
			row[i] = expf(row[i] - max);
			sum += row[i];
		}
		float inv = 1.0f / sum;
		for (size_t i = 0; i < n; i++)
			row[i] *= inv;
	}
}

void l2_normalize(float *out, const float *x, size_t n)
{
	double ss = 0.0;
	for (size_t i = 0; i < n; i++)
		ss += (double)x[i] * (double)x[i];
	double norm = sqrt(ss);
	float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] * inv;
}

void sigmoid(float *out, const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = 1.0f / (1.0f + expf(-x[i]));
}
