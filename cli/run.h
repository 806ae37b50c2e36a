/*
 * run: the state of one `runpack run`, shared by the command's three files:
 * cmd_run.c (flags, admission, the agent, the flow), run_result.c (errors,
 * findings, result.json and the stdout summary) and run_package.c (staging,
 * the package and its minisign signature). Internal to cli/.
 */
#ifndef RP_RUN_H
#define RP_RUN_H

#include "rp_capture.h"
#include "rp_enum.h"
#include "rp_events.h"
#include "rp_git.h"
#include "rp_manifest.h"
#include "rp_plan.h"
#include "rp_policy.h"
#include "rp_redact.h"
#include "rp_secrets.h"
#include "rp_sha256.h"
#include "rp_sign.h"
#include "rp_spawn.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct run_opts {
	const char *manifest_path;
	const char *policy_path;
	const char *key_path;
	const char *out_path;
	const char *event_log;
	const char *state_dir;
	bool minisig;
};

/* Everything one run accumulates; released by run_release(). */
struct run {
	struct run_opts o;
	int64_t started_ms, ended_ms;
	const char *status;   /* terminal status; NULL while undecided */
	int exit_code;        /* runpack's exit code */
	json_t *errors;       /* errors[] of result.json and the summary */

	struct rp_buf manifest_text;
	bool manifest_read;
	struct rp_manifest *manifest;
	char *run_id;
	struct rp_policy *policy;
	const char *policy_source;
	struct rp_plan plan;
	bool planned;

	char *state_dir;
	char *scratch;        /* <state>/runs/<runId>.XXXXXX */
	struct rp_key *key;
	char *key_pub_path;   /* where the per-host public key is, if used */
	char *out_path;

	struct rp_secrets secrets;
	struct rp_redactor *redactor;
	struct rp_events *events;
	struct rp_capture out, err;
	bool captures;
	struct rp_spawn_caps caps;
	struct rp_spawn_result res;
	bool spawned;
	json_t *enforcement;
	struct rp_artifact_list artifacts;
	bool enumerated;
	struct rp_git *git;   /* NULL unless the workspace is a readable repository */
	bool git_compared;    /* the workspace was compared with the git base */
	bool diff_staged;     /* diff.patch is in the staging file */
	uint64_t diff_offset, diff_size;
	struct rp_git_diff_stats diff_stats;
	unsigned char diff_sha[RP_SHA256_LEN];
	json_t *findings;     /* redaction findings per entry */
	unsigned char pkg_sha[RP_SHA256_LEN];
	bool packaged;
	char *minisig_path;
};

/* errors[] gains the last rp_error, with its input location if any. */
void run_add_error(struct run *r);
/* A failure that does not change the run's outcome: recorded in errors[]
 * and said on stderr with its context. */
void run_note(struct run *r, const char *context);
/* Redaction findings of an entry (count 0 adds nothing). */
void run_add_finding(struct run *r, const char *entry, const char *rule, uint64_t count);
void run_add_stream_findings(struct run *r, const char *entry, const struct rp_redact_stream *s);
/* "SIGTERM"; the buffer is thread-local. */
const char *run_signal_name(int sig);

/* result.json (new reference), from everything the run recorded. */
json_t *run_result_json(struct run *r);
/* The one JSON object on stdout; 0 or -1 when stdout cannot be written. */
int run_print_summary(struct run *r);

/* Stage, redact and write the package atomically (sets r->packaged). */
int run_write_package(struct run *r);
/* <out>.minisig for the written package. */
int run_write_minisig(struct run *r);

#endif
