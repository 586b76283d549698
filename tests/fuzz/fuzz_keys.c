/* fuzz_keys.c - key escrow exports (CSV from AD / Entra ID / MBAM /
 * CrowdStrike, Graph JSON, UTF-16 with BOM ...) through
 * lb_keys_load_buffer, then every lookup on what was loaded; the recovery
 * password and GUID parsers on the same bytes as a string. */
#include <stdlib.h>
#include <string.h>

#include "lb_bitlocker.h"
#include "lb_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_keystore *ks = lb_keys_new();
	struct lb_keys_stats st;
	struct lb_err err;
	char rp[LB_RP_LEN + 1], guid[LB_GUID_STRLEN];
	char *str;

	if (!ks)
		return 0;
	memset(&st, 0, sizeof(st));
	lb_err_clear(&err);
	if (lb_keys_load_buffer(ks, (const char *)data, size, "fuzz", &st, &err) == 0) {
		size_t n = lb_keys_count(ks);

		for (size_t i = 0; i < n; i++) {
			const struct lb_key_entry *e = lb_keys_entry(ks, i);
			size_t pos = 0;

			if (!e)
				continue;
			if (strlen(e->recovery_password) != LB_RP_LEN || !lb_rp_is_valid(e->recovery_password))
				abort(); /* the store must only hold normalised, valid keys */
			if (e->guid[0]) {
				while (lb_keys_find(ks, e->guid, &pos))
					;
				if (!lb_keys_lookup(ks, e->guid))
					abort(); /* an entry's own GUID must find something */
			}
		}
	}
	lb_keys_free(ks);

	/* the same bytes as a typed recovery password / protector ID */
	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	if (lb_rp_normalize(str, rp, &err) == 0 && !lb_rp_is_valid(rp))
		abort();
	lb_rp_check_block(str, size < 8 ? size : 8);
	lb_guid_canon(str, guid);
	free(str);
	return 0;
}
