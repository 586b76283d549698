/* lb_unlock.c - key selection for BitLocker volumes. */
#include "lb_unlock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct lb_io *try_key(const char *path, uint64_t off, uint64_t size,
                             enum lb_bitlocker_key_kind kind, const char *secret, bool writable,
                             char used[LB_GUID_STRLEN], struct lb_err *err)
{
	struct lb_bitlocker_key k = { kind, secret };

	return lb_bitlocker_open2(path, off, size, &k, writable, used, err);
}

/* Keeps the most informative failure: input/io errors over wrong keys. */
static void keep_err(struct lb_err *best, const struct lb_err *e)
{
	if (best->kind == LB_EK_NONE || (best->kind == LB_EK_REFUSED && e->kind != LB_EK_REFUSED))
		*best = *e;
}

/* The notes of the key store (lb_keys_note) that concern this volume:
 * those for every volume and those for one of its protectors, joined. */
static void volume_notes(const struct lb_unlock *u, const struct lb_bitlocker_info *info,
                         char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; u && i < lb_keys_nnotes(u->ks) && o + 8 < cap; i++) {
		const char *g, *t = lb_keys_note_text(u->ks, i, &g);
		bool mine = !g[0];

		for (unsigned k = 0; !mine && k < info->n_protectors; k++)
			mine = strcmp(info->protectors[k].guid, g) == 0;
		if (mine)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "; " : "", t);
	}
	if (o >= cap)
		out[cap - 1] = '\0';
}

struct lb_io *lb_unlock_open(struct lb_unlock *u, const char *path, uint64_t off, uint64_t size,
                             const struct lb_bitlocker_info *info, bool writable,
                             char protector[LB_GUID_STRLEN], char source[32], struct lb_err *err)
{
	struct lb_err e, best;
	struct lb_io *io;
	bool any_rp = false, skipped = false;
	unsigned nrp = 0;
	char notes[400];

	lb_err_clear(&best);
	protector[0] = '\0';
	source[0] = '\0';
	if (info->suspended) {
		lb_err_clear(&e);
		io = try_key(path, off, size, LB_BLK_CLEAR_KEY, NULL, writable, protector, &e);
		if (io) {
			snprintf(source, 32, "clear_key");
			return io;
		}
		keep_err(&best, &e);
	}
	for (unsigned i = 0; i < info->n_protectors; i++)
		nrp += info->protectors[i].type == LB_BLP_RECOVERY_PASSWORD;
	for (unsigned i = 0; u && u->ks && i < info->n_protectors; i++) {
		const struct lb_bitlocker_protector *p = &info->protectors[i];
		size_t pos = 0;
		const struct lb_key_entry *ke;

		if (p->type != LB_BLP_RECOVERY_PASSWORD)
			continue;
		any_rp = true;
		/* an export may hold several keys for one ID: try each */
		while ((ke = lb_keys_find(u->ks, p->guid, &pos))) {
			lb_err_clear(&e);
			io = try_key(path, off, size, LB_BLK_RECOVERY_PASSWORD, ke->recovery_password,
			             writable, protector, &e);
			if (io) {
				snprintf(source, 32, "%s%s", ke->source[0] ? "escrow:" : "escrow",
				         ke->source);
				return io;
			}
			keep_err(&best, &e);
		}
	}
	/* keys without an ID (a bare list, a row whose ID was unreadable):
	 * tried on every volume with a recovery protector */
	for (size_t i = 0; u && u->ks && nrp && i < lb_keys_count(u->ks); i++) {
		const struct lb_key_entry *ke = lb_keys_entry(u->ks, i);

		if (ke->guid[0])
			continue;
		lb_err_clear(&e);
		io = try_key(path, off, size, LB_BLK_RECOVERY_PASSWORD, ke->recovery_password,
		             writable, protector, &e);
		if (io) {
			snprintf(source, 32, "%s%s", ke->source[0] ? "escrow:" : "escrow", ke->source);
			return io;
		}
		keep_err(&best, &e);
	}
	for (size_t i = 0; u && i < u->nbek; i++) {
		lb_err_clear(&e);
		io = try_key(path, off, size, LB_BLK_BEK_FILE, u->bek_files[i], writable, protector, &e);
		if (io) {
			snprintf(source, 32, "bek");
			return io;
		}
		keep_err(&best, &e);
	}
	for (size_t i = 0; u && nrp && i < u->nrecovery; i++) {
		lb_err_clear(&e);
		io = try_key(path, off, size, LB_BLK_RECOVERY_PASSWORD, u->recovery_passwords[i],
		             writable, protector, &e);
		if (io) {
			snprintf(source, 32, "recovery_password");
			return io;
		}
		keep_err(&best, &e);
	}
	for (size_t i = 0; u && i < u->npasswords; i++) {
		lb_err_clear(&e);
		io = try_key(path, off, size, LB_BLK_PASSWORD, u->passwords[i], writable, protector, &e);
		if (io) {
			snprintf(source, 32, "password");
			return io;
		}
		keep_err(&best, &e);
	}
	/* keys typed earlier in this run were added to the keystore with
	 * source "prompt", so the apply phase finds them above */
	if (u && u->interactive && !writable && u->ks) {
		for (unsigned i = 0; i < info->n_protectors; i++) {
			const struct lb_bitlocker_protector *p = &info->protectors[i];
			char rp[LB_RP_LEN + 1];

			if (p->type != LB_BLP_RECOVERY_PASSWORD)
				continue;
			int pr;

			while ((pr = lb_unlock_prompt(p->guid, info->description, rp)) == 0) {
				char csv[160];
				int n;

				lb_err_clear(&e);
				io = try_key(path, off, size, LB_BLK_RECOVERY_PASSWORD, rp, false, protector,
				             &e);
				if (io) {
					n = snprintf(csv, sizeof(csv), "KeyID,RecoveryKey\n%s,%s\n", p->guid, rp);
					lb_keys_load_buffer(u->ks, csv, (size_t)n, "prompt", NULL, &e);
					sodium_memzero(csv, sizeof(csv));
					sodium_memzero(rp, sizeof(rp));
					snprintf(source, 32, "prompt");
					return io;
				}
				sodium_memzero(rp, sizeof(rp));
				fprintf(stderr, "  %s\n", e.msg);
			}
			skipped = pr == 1;
			break;
		}
	}
	volume_notes(u, info, notes, sizeof(notes));
	if (best.kind != LB_EK_NONE && best.kind != LB_EK_REFUSED) {
		*err = best;
		if (notes[0])
			lb_err_set(err, best.kind, best.sys_errno, "%s; %s", best.msg, notes);
		return NULL;
	}
	{
		char ids[4 * LB_GUID_STRLEN + 8] = "";

		for (unsigned i = 0; i < info->n_protectors && strlen(ids) < 3 * LB_GUID_STRLEN; i++)
			if (info->protectors[i].type == LB_BLP_RECOVERY_PASSWORD) {
				if (ids[0])
					strcat(ids, " ");
				strcat(ids, info->protectors[i].guid);
			}
		if (best.kind == LB_EK_REFUSED)
			lb_err_set(err, LB_EK_REFUSED, 0, "BitLocker volume stays locked: %s%s%s",
			           best.msg, notes[0] ? "; " : "", notes);
		else if (notes[0])
			lb_err_set(err, LB_EK_REFUSED, 0, "BitLocker volume stays locked: %s; no other key "
			           "was found%s%s", notes, any_rp ? " for recovery protector " : "", ids);
		else
			lb_err_set(err, LB_EK_REFUSED, 0, "BitLocker volume is locked and no key was found%s%s%s",
			           any_rp ? " for recovery protector " : "", ids, !any_rp ? "" :
			           skipped ? " (skipped at the prompt: give --keys with the escrow export, "
			           "or type the key when asked)" :
			           u && u->interactive ? " (give --keys with the escrow export)" :
			           " (give --keys with the escrow export, or run attended)");
	}
	return NULL;
}

/* ---- the prompt ---- */

static void tty_puts(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Characters the line shows for nd digits: a dash after each full block
 * but the last. */
static int shown(int nd)
{
	return nd + (nd < 48 ? nd / 6 : 7);
}

static void tty_erase(int fd, int n)
{
	while (n-- > 0)
		tty_puts(fd, "\b \b");
}

/* A note after the digits typed so far, then the line again on a new
 * prompt (the terminal only: never a log). */
static void tty_note(int fd, const char *note, const char *digits, int nd)
{
	tty_puts(fd, "  <- ");
	tty_puts(fd, note);
	tty_puts(fd, "\n> ");
	for (int i = 0; i < nd; i++) {
		char d[3] = { digits[i], (i % 6 == 5 && i != 47) ? '-' : 0, 0 };

		tty_puts(fd, d);
		sodium_memzero(d, sizeof(d));
	}
}

int lb_unlock_prompt(const char *protector, const char *description, char out[LB_RP_LEN + 1])
{
	struct termios old, raw;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	char digits[48], line[256];
	int nd = 0, rc = 1;
	unsigned char c;

	if (fd < 0)
		return -1;
	snprintf(line, sizeof(line), "\nBitLocker recovery key needed%s%.120s\n",
	         description && description[0] ? " for " : "", description ? description : "");
	tty_puts(fd, line);
	snprintf(line, sizeof(line), "Recovery key ID: %.8s (full ID %s)\n",
	         protector + (protector[0] == '{'), protector);
	tty_puts(fd, line);
	tty_puts(fd, "Type the 48 digits (dashes optional; Backspace, Ctrl-U clears the line), "
	         "Enter on an empty line to skip:\n> ");
	if (tcgetattr(fd, &old) < 0) {
		close(fd);
		return -1;
	}
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(fd, TCSANOW, &raw);
	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n' || c == '\r') {
			if (nd == 0)
				break;          /* skip */
			if (nd == 48) {
				rc = 0;
				break;
			}
			snprintf(line, sizeof(line), "\a%d of 48 digits: %d missing", nd, 48 - nd);
			tty_note(fd, line, digits, nd);
		} else if (c == 127 || c == 8) {
			if (nd > 0) {
				nd--;
				tty_erase(fd, shown(nd + 1) - shown(nd));
			}
		} else if (c == 21) {   /* Ctrl-U: clear the line */
			tty_erase(fd, shown(nd));
			nd = 0;
		} else if (isdigit(c) && nd == 48) {
			tty_note(fd, "\a48 digits already: Enter to use them, Backspace to correct",
			         digits, nd);
		} else if (isdigit(c)) {
			enum lb_rp_block_status st;
			char echo[2] = { (char)c, 0 };

			digits[nd++] = (char)c;
			tty_puts(fd, echo);
			st = lb_rp_check_block(digits + (nd - 1) / 6 * 6, (size_t)((nd - 1) % 6 + 1));
			if (st != LB_RP_BLOCK_OK && st != LB_RP_BLOCK_INCOMPLETE) {
				/* wrong block: say so at once and erase it */
				int k = (nd - 1) % 6 + 1;

				snprintf(line, sizeof(line), "block %d %s", (nd - 1) / 6 + 1,
				         lb_rp_block_status_text(st));
				nd -= k;
				tty_note(fd, line, digits, nd);
			} else if (nd % 6 == 0 && nd < 48) {
				tty_puts(fd, "-");
			}
			sodium_memzero(echo, sizeof(echo));
		} else if (isgraph(c) && c != '-') {
			/* a letter (l for 1, O for 0) is not silently dropped */
			snprintf(line, sizeof(line), "\adigits only: '%c' ignored%s", c,
			         strchr("lIi|", c) ? " (type 1)" : strchr("Oo", c) ? " (type 0)" : "");
			tty_note(fd, line, digits, nd);
		}
		/* dashes and spaces typed by the operator are ignored */
	}
	tcsetattr(fd, TCSANOW, &old);
	tty_puts(fd, "\n");
	close(fd);
	if (rc == 0) {
		int j = 0;

		for (int i = 0; i < 48; i++) {
			out[j++] = digits[i];
			if (i % 6 == 5 && i != 47)
				out[j++] = '-';
		}
		out[j] = '\0';
	}
	sodium_memzero(digits, sizeof(digits));
	return rc;
}
