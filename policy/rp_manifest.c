#include "rp_manifest.h"
#include "rp_error.h"
#include "rp_glob.h"
#include "rp_jsonin.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECONDS INT32_MAX
#define MAX_UNITS INT32_MAX

static const char *const top_keys[] = {
	"runId", "baseDir", "importedFrom", "orchestratorWorkspace", "agent",
	"capacity", "egress", "scope", "artifacts", "diff", NULL,
};
static const char *const workspace_keys[] = {
	"kind", "sourceLabel", "sourceRef", "baseRevision", "writeback", NULL,
};
static const char *const agent_keys[] = {
	"argv", "cwd", "env", "secretEnv", "provider", "runtime", "timeoutSeconds", NULL,
};
static const char *const capacity_keys[] = { "tenant", "workspace", "units", NULL };
static const char *const egress_keys[] = { "mode", "allow", NULL };
static const char *const scope_keys[] = { "write", NULL };
static const char *const artifacts_keys[] = { "include", "exclude", NULL };
static const char *const egress_modes[] = { "none", "allowlist", "open", NULL };

const char *rp_egress_mode_name(enum rp_egress_mode m)
{
	return m >= RP_EGRESS_NONE && m <= RP_EGRESS_OPEN ? egress_modes[m] : "unknown";
}

bool rp_run_id_valid(const char *id)
{
	size_t n = 0;

	if (!id || !*id || *id == '.')
		return false;
	for (; id[n]; n++) {
		char c = id[n];

		if (n >= RP_RUN_ID_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

char *rp_run_id_generate(void)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char r[16];
	unsigned acc = 0;
	int bits = 0;
	size_t o = 3;
	char *id = malloc(3 + 26 + 1);

	if (!id)
		return NULL;
	randombytes_buf(r, sizeof(r));
	memcpy(id, "rp-", 3);
	for (size_t i = 0; i < sizeof(r); i++) {
		acc = (acc << 8) | r[i];
		bits += 8;
		while (bits >= 5) {
			id[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	id[o++] = alphabet[(acc << (5 - bits)) & 31];
	id[o] = '\0';
	return id;
}

/* ---- egress entries ---- */

static bool parse_decimal(unsigned *out, const char *s, size_t n, unsigned max)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool dns_name_valid(const char *s, size_t n)
{
	size_t label = 0;
	bool numeric = true;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			if (i == n)
				break;
			label = 0;
			numeric = true;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (c < '0' || c > '9')
			numeric = false;
		label++;
	}
	/* An all-digit last label is a mistyped address, not a name. */
	return !numeric;
}

static bool host_bits_clear(const unsigned char *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
		unsigned char mask = (unsigned char)(0xff00u >> keep);

		if (addr[i] & ~mask & 0xff)
			return false;
	}
	return true;
}

/* "addr" or "addr/prefix" for one family into e. */
static bool parse_ip(struct rp_egress_entry *e, int family, const char *s, size_t n,
		     const char **why)
{
	char buf[64];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	unsigned max = family == AF_INET ? 32 : 128;

	if (alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(family, buf, e->addr) != 1)
		return false;
	e->kind = family == AF_INET ? RP_HOST_IPV4 : RP_HOST_IPV6;
	e->prefix = max;
	if (slash && !parse_decimal(&e->prefix, slash + 1, n - alen - 1, max)) {
		*why = "bad CIDR prefix length";
		return false;
	}
	if (!host_bits_clear(e->addr, max / 8, e->prefix)) {
		*why = "CIDR has address bits set past its prefix";
		return false;
	}
	return true;
}

/* An unbracketed host: an IPv4 address or CIDR, else a DNS name. */
static bool parse_host(struct rp_egress_entry *e, const char *h, size_t n, const char **why)
{
	bool cidr = memchr(h, '/', n) != NULL;

	if (n && ((h[0] >= '0' && h[0] <= '9') || cidr) && parse_ip(e, AF_INET, h, n, why))
		return true;
	if (cidr || !dns_name_valid(h, n))
		return false;
	e->kind = RP_HOST_NAME;
	for (size_t i = 0; i < n; i++)
		e->name[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + ('a' - 'A') : h[i]);
	e->name[n] = '\0';
	return true;
}

bool rp_egress_entry_parse(struct rp_egress_entry *out, const char *s, const char **why)
{
	const char *unused, *colon, *rb;
	char inner[64];
	size_t alen, tail;

	if (!why)
		why = &unused;
	memset(out, 0, sizeof(*out));
	*why = "expected host:port";
	if (s[0] == '[') {
		rb = strchr(s, ']');
		colon = rb ? strchr(rb, ':') : NULL;
		if (!colon)
			return false;
		*why = "not a valid IPv6 address or CIDR";
		alen = (size_t)(rb - s - 1);
		tail = (size_t)(colon - rb - 1);
		if (alen + tail >= sizeof(inner) || (tail && rb[1] != '/'))
			return false;
		/* "[addr]/prefix" becomes "addr/prefix". */
		memcpy(inner, s + 1, alen);
		memcpy(inner + alen, rb + 1, tail);
		if (!parse_ip(out, AF_INET6, inner, alen + tail, why))
			return false;
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return false;
		if (strchr(colon + 1, ':')) {
			*why = "IPv6 addresses must be in brackets";
			return false;
		}
		*why = "not a valid host name, IPv4 address or CIDR";
		if (!parse_host(out, s, (size_t)(colon - s), why))
			return false;
	}
	if (!parse_decimal(&out->port, colon + 1, strlen(colon + 1), 65535) || out->port == 0) {
		*why = "port must be 1-65535";
		return false;
	}
	return true;
}

/* ---- field checks ---- */

static int invalid(const struct rp_jsonin *in, const struct rp_jsonin_node *n, const char *what)
{
	return rp_jsonin_error(in, n, RP_E_INVALID, in->id_invalid, "%s", what);
}

static int check_run_id(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			const char *s)
{
	if (rp_run_id_valid(s))
		return RP_OK;
	return invalid(in, n, "expected at most 128 characters of [A-Za-z0-9._-], "
			      "not starting with '.'");
}

/* Relative paths stay inside the workspace: no leading '/', no "..". */
static int check_relative(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			  const char *s)
{
	const char *p = s;

	if (!s[0] || s[0] == '/')
		return invalid(in, n, "expected a relative path inside the workspace");
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return invalid(in, n, "expected a relative path without '..' components");
		p += len;
		if (*p)
			p++;
	}
	return RP_OK;
}

static int check_env_name(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			  const char *s)
{
	if (rp_jsonin_identifier(s))
		return RP_OK;
	return rp_jsonin_error_key(in, n, RP_E_INVALID, in->id_invalid,
				   "expected a variable name matching [A-Za-z_][A-Za-z0-9_]*");
}

static int check_secret_ref(const struct rp_jsonin *in, const struct rp_jsonin_node *n,
			    const char *s)
{
	if (strncmp(s, "env:", 4) == 0 && rp_jsonin_identifier(s + 4))
		return RP_OK;
	if (strncmp(s, "file:", 5) == 0 && s[5] == '/')
		return RP_OK;
	return invalid(in, n, "expected \"env:NAME\" or \"file:/absolute/path\"");
}

static int check_glob(const struct rp_jsonin *in, const struct rp_jsonin_node *n, const char *s)
{
	if (rp_glob_valid(s))
		return RP_OK;
	return invalid(in, n, "expected a relative glob (balanced [...], no empty, '.' or "
			      "'..' components)");
}

/* ---- sections ---- */

static int parse_workspace(struct rp_manifest *m, const struct rp_jsonin *in,
			   const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node ws, f;
	int rc;

	rp_jsonin_member(&ws, root, "orchestratorWorkspace");
	if (!ws.v)
		return RP_OK;
	rc = rp_jsonin_object(in, &ws, workspace_keys);
	if (rc)
		return rc;
	for (size_t i = 0; workspace_keys[i]; i++) {
		rp_jsonin_member(&f, &ws, workspace_keys[i]);
		if (f.v && !json_is_string(f.v))
			return rp_jsonin_error(in, &f, RP_E_INVALID, in->id_invalid,
					       "expected a string, got %s",
					       rp_jsonin_type_name(f.v));
	}
	rp_jsonin_member(&f, &ws, "writeback");
	if (f.v && strcmp(json_string_value(f.v), "external") != 0)
		return rp_jsonin_error(in, &f, RP_E_INVALID, "manifest_writeback_unsupported",
				       "only \"external\" is supported: runpack never writes "
				       "back to a source");
	m->orchestrator_workspace = json_deep_copy(ws.v);
	if (!m->orchestrator_workspace)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return RP_OK;
}

static int kv_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_kv *)a)->key, ((const struct rp_kv *)b)->key);
}

static int parse_secrets(struct rp_manifest *m, const struct rp_jsonin *in,
			 const struct rp_jsonin_node *agent)
{
	struct rp_jsonin_node sn, member;
	struct rp_kv *kv = NULL;
	size_t n = 0, i;
	int rc;

	rp_jsonin_member(&sn, agent, "secretEnv");
	rc = rp_jsonin_strmap(&kv, &n, in, &sn, check_env_name, check_secret_ref);
	if (rc || !n)
		goto done;
	m->secrets = calloc(n, sizeof(*m->secrets));
	if (!m->secrets) {
		rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		struct rp_secret_ref *s = &m->secrets[i];
		struct rp_kv probe = { kv[i].key, NULL };
		bool is_env = strncmp(kv[i].value, "env:", 4) == 0;

		if (m->env_n && bsearch(&probe, m->env, m->env_n, sizeof(*m->env), kv_key_cmp)) {
			rp_jsonin_member(&member, &sn, kv[i].key);
			rc = rp_jsonin_error_key(in, &member, RP_E_INVALID, in->id_invalid,
						 "also set in $.agent.env");
			goto done;
		}
		s->source = is_env ? RP_SECRET_ENV : RP_SECRET_FILE;
		s->ref = strdup(kv[i].value + (is_env ? 4 : 5));
		s->name = kv[i].key;
		kv[i].key = NULL;
		m->secrets_n++;
		if (!s->ref) {
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
			goto done;
		}
	}
done:
	rp_jsonin_kv_free(kv, n);
	return rc;
}

static int parse_agent(struct rp_manifest *m, const struct rp_jsonin *in,
		       const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node agent, f, first;
	int rc;

	rp_jsonin_member(&agent, root, "agent");
	if ((rc = rp_jsonin_require(in, &agent)) || (rc = rp_jsonin_object(in, &agent, agent_keys)))
		return rc;

	rp_jsonin_member(&f, &agent, "argv");
	if ((rc = rp_jsonin_require(in, &f)) || (rc = rp_jsonin_strv(&m->argv, in, &f, NULL)))
		return rc;
	if (m->argv.n == 0)
		return invalid(in, &f, "expected a non-empty array of strings");
	rp_jsonin_elem(&first, &f, 0);
	if ((rc = rp_jsonin_check_nonempty(in, &first, m->argv.v[0])))
		return rc;

	rp_jsonin_member(&f, &agent, "cwd");
	if ((rc = rp_jsonin_string(&m->cwd, in, &f, check_relative)))
		return rc;
	rp_jsonin_member(&f, &agent, "env");
	if ((rc = rp_jsonin_strmap(&m->env, &m->env_n, in, &f, check_env_name, NULL)))
		return rc;
	if ((rc = parse_secrets(m, in, &agent)))
		return rc;
	rp_jsonin_member(&f, &agent, "provider");
	if ((rc = rp_jsonin_string(&m->provider, in, &f, rp_jsonin_check_nonempty)))
		return rc;
	rp_jsonin_member(&f, &agent, "runtime");
	if ((rc = rp_jsonin_string(&m->runtime, in, &f, rp_jsonin_check_nonempty)))
		return rc;
	rp_jsonin_member(&f, &agent, "timeoutSeconds");
	return rp_jsonin_int(&m->timeout_seconds, in, &f, 1, MAX_SECONDS);
}

static int parse_capacity(struct rp_manifest *m, const struct rp_jsonin *in,
			  const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node cap, f;
	int rc;

	rp_jsonin_member(&cap, root, "capacity");
	if ((rc = rp_jsonin_object(in, &cap, capacity_keys)))
		return rc;
	rp_jsonin_member(&f, &cap, "tenant");
	if ((rc = rp_jsonin_string(&m->capacity.tenant, in, &f, rp_jsonin_check_nonempty)))
		return rc;
	rp_jsonin_member(&f, &cap, "workspace");
	if ((rc = rp_jsonin_string(&m->capacity.workspace, in, &f, rp_jsonin_check_nonempty)))
		return rc;
	rp_jsonin_member(&f, &cap, "units");
	return rp_jsonin_int(&m->capacity.units, in, &f, 1, MAX_UNITS);
}

static int parse_egress(struct rp_manifest *m, const struct rp_jsonin *in,
			const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node eg, f;
	int mode = RP_EGRESS_NONE, rc;

	rp_jsonin_member(&eg, root, "egress");
	if ((rc = rp_jsonin_object(in, &eg, egress_keys)))
		return rc;
	rp_jsonin_member(&f, &eg, "mode");
	if ((rc = rp_jsonin_enum(&mode, in, &f, egress_modes)))
		return rc;
	m->egress.mode = (enum rp_egress_mode)mode;
	rp_jsonin_member(&f, &eg, "allow");
	if ((rc = rp_jsonin_strv(&m->egress.allow, in, &f, rp_jsonin_check_egress)))
		return rc;
	if (m->egress.allow.n && m->egress.mode != RP_EGRESS_ALLOWLIST)
		return invalid(in, &f, "must be empty unless $.egress.mode is \"allowlist\"");
	return RP_OK;
}

static int parse_paths(struct rp_manifest *m, const struct rp_jsonin *in,
		       const struct rp_jsonin_node *root)
{
	struct rp_jsonin_node sec, f;
	int rc;

	rp_jsonin_member(&sec, root, "scope");
	if ((rc = rp_jsonin_object(in, &sec, scope_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "write");
	if ((rc = rp_jsonin_strv(&m->scope_write, in, &f, check_relative)))
		return rc;

	rp_jsonin_member(&sec, root, "artifacts");
	if ((rc = rp_jsonin_object(in, &sec, artifacts_keys)))
		return rc;
	rp_jsonin_member(&f, &sec, "include");
	if ((rc = rp_jsonin_strv(&m->include, in, &f, check_glob)))
		return rc;
	m->include_set = f.v != NULL;
	rp_jsonin_member(&f, &sec, "exclude");
	return rp_jsonin_strv(&m->exclude, in, &f, check_glob);
}

static int set_defaults(struct rp_manifest *m)
{
	m->cwd = strdup(".");
	m->capacity.units = 1;
	m->egress.mode = RP_EGRESS_NONE;
	m->scope_write.v = calloc(2, sizeof(*m->scope_write.v));
	if (m->scope_write.v) {
		m->scope_write.v[0] = strdup(".");
		m->scope_write.n = m->scope_write.v[0] ? 1 : 0;
	}
	if (!m->cwd || !m->scope_write.n)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	return RP_OK;
}

int rp_manifest_parse(struct rp_manifest **out, const char *file, const char *text, size_t len)
{
	const struct rp_jsonin in = {
		.file = file, .text = text, .len = len,
		.id_parse = "manifest_parse_error",
		.id_unknown = "manifest_unknown_field",
		.id_invalid = "manifest_invalid_field",
		.id_missing = "manifest_missing_field",
	};
	struct rp_jsonin_node root, f;
	struct rp_manifest *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return rp_error_set(RP_E_NOMEM, NULL, "out of memory");
	if ((rc = set_defaults(m)) || (rc = rp_jsonin_load(&m->doc, &root, &in)) ||
	    (rc = rp_jsonin_object(&in, &root, top_keys)))
		goto done;

	rp_jsonin_member(&f, &root, "runId");
	if ((rc = rp_jsonin_string(&m->run_id, &in, &f, check_run_id)))
		goto done;
	rp_jsonin_member(&f, &root, "baseDir");
	if ((rc = rp_jsonin_require(&in, &f)) ||
	    (rc = rp_jsonin_string(&m->base_dir, &in, &f, rp_jsonin_check_absolute)))
		goto done;
	rp_jsonin_member(&f, &root, "importedFrom");
	if ((rc = rp_jsonin_string(&m->imported_from, &in, &f, NULL)) ||
	    (rc = parse_workspace(m, &in, &root)) || (rc = parse_agent(m, &in, &root)) ||
	    (rc = parse_capacity(m, &in, &root)) || (rc = parse_egress(m, &in, &root)) ||
	    (rc = parse_paths(m, &in, &root)))
		goto done;
	rp_jsonin_member(&f, &root, "diff");
	if ((rc = rp_jsonin_bool(&m->diff, &in, &f)))
		goto done;

	if (!m->run_id) {
		m->run_id = rp_run_id_generate();
		m->run_id_generated = true;
		if (!m->run_id) {
			rc = rp_error_set(RP_E_NOMEM, NULL, "out of memory");
			goto done;
		}
	}
	*out = m;
	m = NULL;
done:
	rp_manifest_free(m);
	return rc;
}

void rp_manifest_free(struct rp_manifest *m)
{
	if (!m)
		return;
	free(m->run_id);
	free(m->base_dir);
	free(m->imported_from);
	json_decref(m->orchestrator_workspace);
	rp_jsonin_strv_release(&m->argv);
	free(m->cwd);
	rp_jsonin_kv_free(m->env, m->env_n);
	for (size_t i = 0; i < m->secrets_n; i++) {
		free(m->secrets[i].name);
		free(m->secrets[i].ref);
	}
	free(m->secrets);
	free(m->provider);
	free(m->runtime);
	free(m->capacity.tenant);
	free(m->capacity.workspace);
	rp_jsonin_strv_release(&m->egress.allow);
	rp_jsonin_strv_release(&m->scope_write);
	rp_jsonin_strv_release(&m->include);
	rp_jsonin_strv_release(&m->exclude);
	json_decref(m->doc);
	free(m);
}

int rp_manifest_locate_error(const char *file, const char *text, size_t len)
{
	const struct rp_jsonin in = { .file = file, .text = text, .len = len };

	return rp_jsonin_locate_last(&in);
}

json_t *rp_strv_to_json(const struct rp_strv *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < v->n; i++) {
		if (json_array_append_new(a, json_string(v->v[i])) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}
