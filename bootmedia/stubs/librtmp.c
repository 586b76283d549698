/* librtmp: only rtmp:// URLs, which loopbreaker never lets curl use
 * (CURLOPT_PROTOCOLS_STR "http,https").  RTMP_Alloc returns NULL (curl:
 * out of memory), the int calls 0 (FALSE, failure).  Without it GnuTLS,
 * nettle/hogweed, gmp… are no longer needed by libcurl. */
//@ for libcurl.so.4
//@ fn *  return 0;
