/* fuzz_engine.c - the whole read path of `loopbreaker scan` on one hostile
 * image: source, partitions, BitLocker metadata, NTFS open through
 * libntfs-3g over our device operations, volume state (hibernation,
 * journal), Windows installs, SYSTEM/SOFTWARE hive reading, the file,
 * registry and BCD rules of three built-in playbooks (the BCD one fetches
 * the ESP's BCD with mtools when the disk has a vfat partition); then the
 * JSON report and the human summary.
 * Locked BitLocker volumes stay locked (no keys).  Input: a raw image or the
 * sparse encoding of fuzz_common.h (seeds: make-seeds.sh). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "lb_engine.h"
#include "lb_playbook.h"
#include "lb_report.h"

/* What an operator would run: the CrowdStrike playbook, disable-driver
 * for CSAgent and safe-mode-on (file, registry and BCD rules), with their
 * parameters; a built-in that does not load is used as listed. */
static const struct lb_playbook *const *load_playbooks(size_t *n)
{
	static const char *const names[] = { "crowdstrike-2024-07-19", "disable-driver",
	                                     "safe-mode-on" };
	static const struct lb_playbook *list[3];
	static const struct lb_pb_param_value values[] = { { "service", "CSAgent" },
	                                                   { "mode", "minimal" } };

	*n = 0;
	for (size_t i = 0; i < 3; i++) {
		const struct lb_playbook *b = lb_playbook_builtin(names[i]);
		struct lb_pb_param_value pv[2];
		struct lb_playbook *pb = NULL;
		struct lb_err err;
		size_t np = 0;

		if (!b)
			continue;
		for (size_t k = 0; k < 2; k++)
			if (lb_playbook_has_param(b, values[k].name))
				pv[np++] = values[k];
		list[(*n)++] = lb_playbook_load(names[i], pv, np, &pb, &err) == 0 ? pb : b;
	}
	return list;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	static const struct lb_playbook *const *pbs;
	static size_t npbs;
	char path[64];
	const char *targets[1] = { path };
	struct lb_options o;
	json_t *report = NULL;
	char *s;
	struct stat st;
	int fd;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		pbs = load_playbooks(&npbs);
	}
	fd = lbf_image(data, size, path);
	if (fd < 0)
		return 0;
	/* a whole-volume BitLocker image: keep its metadata CRCs valid (see
	 * fuzz_common.h) unless the input asks for its bytes as given */
	if (lbf_is_sparse(data, size) && !(lbf_le64(data + 4) & LBF_NOFIX_FLAG) && fstat(fd, &st) == 0)
		lbf_fve_reseal_fd(fd, 0, (uint64_t)st.st_size);
	memset(&o, 0, sizeof(o));
	o.playbooks = pbs;
	o.nplaybooks = npbs;
	lb_engine_run(&o, targets, 1, &report);
	if (report) {
		s = json_dumps(report, JSON_INDENT(1));
		free(s);
		if (devnull)
			lb_report_summary(report, devnull);
		json_decref(report);
	}
	return 0;
}
