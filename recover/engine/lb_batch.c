/* lb_batch.c - parallel repair of many disk images. */
#include "lb_batch.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "lb_report.h"
#include "target_id.h"

struct slot {
	pid_t pid;
	size_t idx;
	struct timespec start;
};

static double elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1000.0 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void names(const char *dir, size_t i, const char *target, char *report, char *evidence,
                  size_t n)
{
	char buf[4096], *base;

	snprintf(buf, sizeof(buf), "%s", target);
	base = basename(buf);
	snprintf(report, n, "%s/%04zu-%s.report.json", dir, i + 1, base);
	snprintf(evidence, n, "%s/%04zu-%s.evidence.tar.zst", dir, i + 1, base);
}

static bool stopping(const struct lb_options *o)
{
	return o->stop && *o->stop;
}

/* Waits for one child to end (0, its slot freed), polling so that a stop
 * request is passed on to the running children at once (1: none ended
 * yet; -1: no children). */
static int reap(const struct lb_options *o, struct slot *slots, int jobs, int *codes,
                double *ms, bool *forwarded, size_t *ended)
{
	const struct timespec tick = { 0, 20 * 1000 * 1000 };
	int st;
	pid_t pid = waitpid(-1, &st, WNOHANG);

	if (pid < 0)
		return errno == EINTR ? 1 : -1;
	if (pid == 0) {
		if (stopping(o) && !*forwarded) {
			for (int k = 0; k < jobs; k++)
				if (slots[k].pid)
					kill(slots[k].pid, SIGTERM);
			*forwarded = true;
		}
		nanosleep(&tick, NULL);
		return 1;
	}
	for (int k = 0; k < jobs; k++)
		if (slots[k].pid == pid) {
			size_t i = slots[k].idx;

			codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : LB_EXIT_INTERNAL;
			ms[i] = elapsed_ms(&slots[k].start);
			*ended = i;
			slots[k].pid = 0;
			return 0;
		}
	return 1;
}

/* The child: one disk, one report; exits with the disk's status. */
static void child(const struct lb_options *o, const char *target, const char *report,
                  const char *evidence)
{
	struct lb_options c = *o;
	struct lb_unlock u;
	json_t *r = NULL;
	struct lb_err err;
	int ex;

	c.evidence_path = evidence;
	if (o->unlock) {
		u = *o->unlock;
		u.interactive = false; /* no prompts from parallel jobs */
		c.unlock = &u;
	}
	ex = lb_engine_run(&c, &target, 1, &r);
	lb_err_clear(&err);
	if (lb_report_write_run(r, report, NULL, &err)) {
		fprintf(stderr, "loopbreaker: %s\n", err.msg);
		ex = LB_EXIT_INTERNAL;
	}
	json_decref(r);
	fflush(NULL);
	_exit(ex);
}

static int batch_run(const struct lb_options *o, const char *const *targets, size_t n, int jobs,
                     const char *dir, json_t *s);

/* What a disk's report says first: a run-wide reason, a target's error, a
 * volume's first reason; NULL when it says nothing. */
static const char *first_reason(json_t *r)
{
	json_t *t, *v;
	size_t i, j;
	const char *why = json_string_value(json_array_get(json_object_get(r, "reasons"), 0));

	json_array_foreach(json_object_get(r, "targets"), i, t) {
		if (!why)
			why = json_string_value(json_object_get(t, "error"));
		json_array_foreach(json_object_get(t, "volumes"), j, v)
			if (!why)
				why = json_string_value(json_array_get(json_object_get(v, "reasons"), 0));
	}
	return why;
}

/* One finished disk on stderr: "[3/16] vm03.img: fixed (ETA 0:42)".  On a
 * terminal the line of a fixed or clean disk is overwritten by the next;
 * a disk that needs attention or failed keeps its line, with the reason. */
static void progress(const char *target, const char *report, size_t done, size_t n,
                     const struct timespec *t0)
{
	json_error_t je;
	json_t *r = json_load_file(report, 0, &je);
	const char *st = r ? json_string_value(json_object_get(r, "status")) : NULL;
	const char *why = r ? first_reason(r) : "no report written";
	bool ok = st && (!strcmp(st, "fixed") || !strcmp(st, "clean"));
	bool tty = isatty(STDERR_FILENO);
	double el = elapsed_ms(t0) / 1000.0, eta = done ? el / (double)done * (double)(n - done) : 0;
	char line[512];

	snprintf(line, sizeof(line), "[%zu/%zu] %s: %s", done, n, target, st ? st : "error");
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (!ok)
		fprintf(stderr, "%s%s%.300s\n", line, why ? ": " : "", why ? why : "");
	else if (!tty)
		fprintf(stderr, "%s\n", line);
	if (tty && done < n)
		fprintf(stderr, "[%zu/%zu] ETA %d:%02d", done, n, (int)eta / 60, (int)eta % 60);
	else if (tty)
		fprintf(stderr, "[%zu/%zu] done in %d:%02d\n", done, n, (int)el / 60, (int)el % 60);
	json_decref(r);
}

int lb_batch_run(const struct lb_options *o, const char *const *targets, size_t n, int jobs,
                 const char *dir, json_t **summary)
{
	const char **list = calloc(n ? n : 1, sizeof(*list));
	json_t *s = json_object(), *reasons = json_array();
	int ex;

	*summary = s;
	json_object_set_new(s, "reasons", reasons);
	if (!list)
		return LB_EXIT_INTERNAL;
	/* one disk, one process: the same image twice would be two writers */
	memcpy(list, targets, n * sizeof(*list));
	tid_dedupe(list, &n, reasons, stderr);
	ex = batch_run(o, list, n, jobs, dir, s);
	free(list);
	return ex;
}

static int batch_run(const struct lb_options *o, const char *const *targets, size_t n, int jobs,
                     const char *dir, json_t *s)
{
	struct slot *slots = calloc((size_t)jobs, sizeof(*slots));
	json_t *disks = json_array();
	int *codes = calloc(n ? n : 1, sizeof(*codes));
	double *ms = calloc(n ? n : 1, sizeof(*ms));
	size_t next = 0, done = 0, ended = 0;
	int running = 0, worst = 0, totals[4] = { 0 }, rc;
	bool forwarded = false;
	char report[4200], evidence[4200];
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	json_object_set_new(s, "schema", json_string("loopbreaker-batch/1"));
	json_object_set_new(s, "mode", json_string(o->fix ? "fix" : "scan"));
	json_object_set_new(s, "jobs", json_integer(jobs));
	json_object_set_new(s, "report_dir", json_string(dir));
	json_object_set_new(s, "disks", disks);
	if (!slots || !codes || !ms) {
		free(slots);
		free(codes);
		free(ms);
		return LB_EXIT_INTERNAL;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "loopbreaker: %s: %s\n", dir, strerror(errno));
		free(slots);
		free(codes);
		free(ms);
		return LB_EXIT_INTERNAL;
	}
	fflush(NULL);
	while (done < n) {
		while (running < jobs && next < n && !stopping(o)) {
			int k;
			pid_t pid;

			for (k = 0; slots[k].pid; k++)
				;
			names(dir, next, targets[next], report, evidence, sizeof(report));
			pid = fork();
			if (pid < 0) {
				codes[next] = LB_EXIT_INTERNAL;
				next++;
				done++;
				continue;
			}
			if (pid == 0)
				child(o, targets[next], report, evidence);
			slots[k].pid = pid;
			slots[k].idx = next++;
			clock_gettime(CLOCK_MONOTONIC, &slots[k].start);
			running++;
		}
		if (running == 0)
			break;
		rc = reap(o, slots, jobs, codes, ms, &forwarded, &ended);
		if (rc < 0)
			break;
		if (rc == 0) {
			running--;
			done++;
			names(dir, ended, targets[ended], report, evidence, sizeof(report));
			progress(targets[ended], report, done, n, &t0);
		}
	}
	for (size_t i = next; i < n; i++)
		codes[i] = LB_EXIT_INTERNAL; /* never started: interrupted */
	for (size_t i = 0; i < n; i++) {
		json_t *r, *d;
		char status[32];
		json_error_t je;

		names(dir, i, targets[i], report, evidence, sizeof(report));
		r = json_load_file(report, 0, &je);
		snprintf(status, sizeof(status), "%s",
		         r && json_string_value(json_object_get(r, "status")) ?
		         json_string_value(json_object_get(r, "status")) :
		         i >= next ? "interrupted" : "error");
		d = json_pack("{s:s, s:s, s:i, s:s, s:f}", "path", targets[i], "status", status,
		              "exit_code", codes[i], "report", report, "duration_ms", ms[i]);
		if (eng_origin(o, targets[i]))
			json_object_set_new(d, "domain", json_string(eng_origin(o, targets[i])->domain));
		if (r) {
			json_object_set(d, "hostname", json_object_get(r, "hostname"));
			json_object_set(d, "evidence", json_object_get(r, "evidence"));
		}
		if (strcmp(status, "fixed") && strcmp(status, "clean"))
			json_object_set_new(d, "reason", json_string(
			        r && first_reason(r) ? first_reason(r) : i >= next ?
			        "not started: the run was interrupted" : "no report written"));
		json_array_append_new(disks, d);
		json_decref(r);
		totals[!strcmp(status, "fixed") ? 0 : !strcmp(status, "clean") ? 1 :
		       !strcmp(status, "needs_attention") ? 2 : 3]++;
		worst = lb_exit_worse(worst, codes[i]);
	}
	json_object_set_new(s, "totals", json_pack("{s:i, s:i, s:i, s:i}", "fixed", totals[0],
	                    "clean", totals[1], "needs_attention", totals[2], "error", totals[3]));
	if (stopping(o))
		json_array_append_new(json_object_get(s, "reasons"), json_string(
		        "interrupted: disks not started were left alone; run fix again"));
	json_object_set_new(s, "status", json_string(stopping(o) ? "interrupted" :
	                                             totals[3] ? "error" : totals[2] ?
	                    "needs_attention" : totals[0] ? "fixed" : "clean"));
	json_object_set_new(s, "exit_code", json_integer(worst));
	json_object_set_new(s, "duration_ms", json_real(elapsed_ms(&t0)));
	free(slots);
	free(codes);
	free(ms);
	return worst;
}
