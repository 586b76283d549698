/* upload_curl.c - libcurl, loaded when an upload starts.
 *
 * libcurl (and GnuTLS/OpenSSL, Kerberos, LDAP… behind it) is only needed by
 * `upload` and `fix --upload`, so it is not linked: lb_upload_curl_ready()
 * dlopen()s it by soname (lb_dlopen, util layer), resolves every curl_*
 * function the fleet layer calls into lb_curl, and runs curl_global_init.
 * <curl/curl.h> (libcurl4-openssl-dev) is only used for types and constants.
 *
 * Plain RTLD_LOCAL load: libcurl defines no name the binary or its other
 * libraries also define (unlike libdislocker's crc32). */
#include "upload_int.h"

#include "lb_dlopen.h"

#ifndef LB_CURL_SONAME
#define LB_CURL_SONAME "libcurl.so.4"
#endif
#ifndef LB_CURL_PACKAGE
#define LB_CURL_PACKAGE "libcurl4"
#endif

LB_ELF_NOTE_DLOPEN(lb_note_curl, "upload", "sending reports and evidence to a collector",
                   LB_DLOPEN_RECOMMENDED, LB_CURL_SONAME);

struct lb_curl_fns lb_curl;

#define CURL_SYM(f) { "curl_" #f, (void **)&lb_curl.f }

int lb_upload_curl_ready(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		CURL_SYM(global_init), CURL_SYM(easy_init), CURL_SYM(easy_cleanup),
		CURL_SYM(easy_reset), CURL_SYM(easy_setopt), CURL_SYM(easy_perform),
		CURL_SYM(easy_getinfo), CURL_SYM(easy_strerror), CURL_SYM(slist_append),
		CURL_SYM(slist_free_all), CURL_SYM(url), CURL_SYM(url_cleanup), CURL_SYM(url_set),
		CURL_SYM(url_get), CURL_SYM(free),
	};
	static void *handle;
	static bool done;
	CURLcode rc;

	if (done)
		return 0;
	if (!handle)
		handle = lb_dlopen(LB_CURL_SONAME, LB_CURL_PACKAGE, "uploading", LB_DLOPEN_PLAIN, syms,
		                   sizeof(syms) / sizeof(syms[0]), err);
	if (!handle)
		return -1;
	rc = lb_curl.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "libcurl failed to initialise: %s",
		                  lb_curl.easy_strerror(rc));
	done = true;
	return 0;
}
