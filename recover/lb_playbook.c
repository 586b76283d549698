/* lb_playbook.c - built-in playbooks and file classification. */
#include "lb_playbook.h"

#include <ctype.h>
#include <string.h>

/* 2024-07-19T04:09:00Z and 05:27:00Z: the faulty channel file 291 was
 * published at 04:09 UTC and replaced by a good version at 05:27 UTC. */
#define CS_BAD_FROM 1721362140LL
#define CS_BAD_TO 1721366820LL

static const struct lb_header_pattern cs_headers[] = {
	/* channel file magic, version 1, channel number 291 (0x0123) LE */
	{ "channel", { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x23, 0x01 }, 8 },
	/* machines that crashed while writing it hold an all-zero file */
	{ "zero", { 0 }, 8 },
};

static const struct lb_file_rule cs_rules[] = {
	{
		.id = "channel-291",
		.under_system_root = true,
		.dir = "System32\\drivers\\CrowdStrike",
		.glob = "C-00000291*.sys",
		.window_from = CS_BAD_FROM,
		.window_to = CS_BAD_TO,
		.headers = cs_headers,
		.nheaders = sizeof(cs_headers) / sizeof(cs_headers[0]),
		.header_len = 8,
		.action = LB_ACT_QUARANTINE,
	},
};

static const struct lb_playbook crowdstrike = {
	.name = "crowdstrike-2024-07-19",
	.description = "Quarantine the faulty CrowdStrike Falcon channel file 291 "
	               "(C-00000291*.sys written 2024-07-19 04:09-05:27 UTC) that "
	               "crashes Windows at boot",
	.rules = cs_rules,
	.nrules = sizeof(cs_rules) / sizeof(cs_rules[0]),
};

static const struct lb_playbook *const builtins[] = { &crowdstrike, NULL };

const struct lb_playbook *const *lb_playbook_builtins(void)
{
	return builtins;
}

const struct lb_playbook *lb_playbook_builtin(const char *name)
{
	for (size_t i = 0; builtins[i]; i++)
		if (strcmp(builtins[i]->name, name) == 0)
			return builtins[i];
	return NULL;
}

/* '*' and '?' only; ASCII case folding (NTFS names in these rules are ASCII). */
bool lb_glob_match_ci(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g && (*g == '?' || tolower((unsigned char)*g) == tolower((unsigned char)*s))) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

const char *lb_rule_classify(const struct lb_file_rule *r, int64_t mtime_unix,
                             const uint8_t *header, size_t hlen, const char **header_kind)
{
	*header_kind = "other";
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct lb_header_pattern *p = &r->headers[i];

		if (hlen >= p->len && memcmp(header, p->bytes, p->len) == 0) {
			*header_kind = p->kind;
			break;
		}
	}
	if (mtime_unix < r->window_from)
		return "older";
	if (mtime_unix >= r->window_to)
		return "good";
	return strcmp(*header_kind, "other") ? "bad" : "unexpected";
}
