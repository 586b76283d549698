/* libpsl: libcurl asks the public suffix list only for cookies (cookie.c,
 * Curl_psl_use) and in curl_version(); loopbreaker uses neither.
 * psl_latest/psl_builtin return NULL (curl then goes without a PSL),
 * psl_is_cookie_domain_acceptable 0 (not acceptable), the version NULL. */
//@ for libcurl.so.4
//@ fn *  return 0;
