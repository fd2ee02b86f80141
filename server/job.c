/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A job's lifetime and the two stages it spends on the tokenization pool
 * (see job.h): "parse" turns the raw body into a tokenized struct request
 * (or an answer, for errors and the routes that need no model), "encode"
 * turns a finished request into its answer text. Both work on one job and
 * touch no libuv or libmicrohttpd handle and no service state, so they run
 * on whichever thread holds the job; everything that needs the loop is in
 * flow.c.
 */
#include "job.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "strbuf.h"

struct job *job_of(struct tpool_task *t)
{
	return (struct job *)(void *)((char *)t - offsetof(struct job, task));
}

void job_fail(struct job *j, const struct api_error *e)
{
	json_t *v = codec_error_for(j->req.route, e);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	free(j->answer.body);
	j->answer.status = api_error_http_status(e->kind);
	j->answer.error = *e;
	j->answer.body = text; /* NULL when out of memory: the status alone */
	j->answer.len = text ? strlen(text) : 0;
	j->state = JOB_ANSWERED;
}

static void fail_with(struct job *j, enum api_error_kind kind, const char *message)
{
	struct api_error e = {.kind = kind};
	snprintf(e.message, sizeof(e.message), "%s", message);
	job_fail(j, &e);
}

/* The 200 answer of a finished request, or the 424 when it is not finite.
 * The request's inputs, results and body are released once encoded: only
 * the counts the log and headers show are kept. */
static void answer_ok(struct job *j)
{
	struct api_error e = {0};
	struct strbuf b;
	strbuf_init(&b);
	if (codec_check_finite(&j->req, &e) != 0) {
		job_fail(j, &e);
		return;
	}
	if (codec_respond_text(j->env->model, &j->req, &b) != 0) {
		strbuf_dispose(&b);
		fail_with(j, API_ERR_BACKEND, "out of memory encoding the answer");
		return;
	}
	free(j->answer.body);
	j->answer.status = 200;
	j->answer.body = strbuf_take(&b, &j->answer.len);
	j->state = JOB_ANSWERED;
	free(j->req.out);
	j->req.out = NULL;
	j->req.n_out = 0;
}

/* Pool stage 1: JSON parse, validation, tokenization; /tokenize and
 * /decode are answered here. */
static void parse_run(struct tpool_task *t)
{
	struct job *j = job_of(t);
	const struct job_env *env = j->env;
	struct api_error e = {0};
	json_error_t jerr;
	char msg[300];
	uint64_t t0 = now_ns();
	j->body = json_loadb(j->text ? j->text : "", j->n_text,
	                     JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
	free(j->text);
	j->text = NULL;
	if (j->body == NULL) {
		snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		fail_with(j, API_ERR_VALIDATION, msg);
	} else if (codec_parse(env->model, j->req.route, j->body, &env->limits, &j->req, &e) != 0) {
		job_fail(j, &e);
	} else if (route_work(j->req.route) != WORK_NONE &&
	           j->req.n_tokens > env->max_batch_tokens) {
		snprintf(msg, sizeof(msg),
		         "the request holds %d tokens, more than --max-batch-tokens %lld",
		         (int)j->req.n_tokens, (long long)env->max_batch_tokens);
		fail_with(j, API_ERR_VALIDATION, msg);
	} else if (j->force_batch) {
		j->req.batch = 1; /* the Inference API's [[{label, score}]] for one text */
	}
	j->tokenize_ns = now_ns() - t0;
	if (j->state == JOB_PARSING && route_work(j->req.route) == WORK_NONE)
		answer_ok(j); /* tokenize, decode */
}

/* Pool stage 2: the answer of a request whose batch ran. */
static void encode_run(struct tpool_task *t)
{
	struct job *j = job_of(t);
	if (j->env->inject_nonfinite && j->req.n_out > 0) /* TEST ONLY */
		j->req.out[j->req.n_out / 2] = j->env->inject_nonfinite == 1 ? NAN : INFINITY;
	answer_ok(j);
	json_decref(j->body); /* the texts inputs pointed into are no longer needed */
	j->body = NULL;
}

struct job *job_create(const struct job_env *env, enum route route, char *text, size_t n_text)
{
	struct job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		free(text);
		return NULL;
	}
	request_init(&j->req);
	j->req.route = route;
	j->env = env;
	j->text = text;
	j->n_text = n_text;
	j->state = JOB_PARSING;
	j->task.run = parse_run;
	j->answer.drop = -1;
	return j;
}

void job_prepare_encode(struct job *j)
{
	j->state = JOB_ENCODING;
	j->task.run = encode_run;
}

void job_destroy(struct job *j)
{
	if (j == NULL)
		return;
	request_dispose(&j->req);
	json_decref(j->body);
	free(j->text);
	free(j->answer.body);
	free(j);
}
