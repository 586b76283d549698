/* libidn2: libcurl converts a host name with IDN only when it is not
 * ASCII (Curl_idnconvert_hostname: !Curl_is_ASCII_name).  Here
 * idn2_check_version says a version is there, so curl takes its usual path
 * and idn2_lookup_ul fails (IDN2_MALLOC, -100, no output): the upload fails
 * with "URL malformed" for a non-ASCII collector name, which loopbreaker
 * reports.  ASCII names (all a collector URL needs) never reach it.
 * Without it, libunistring (1.8 MB) is no longer needed. */
//@ for libcurl.so.4
//@ fn idn2_check_version  return (long)"0.0 (loopbreaker boot image stub)";
//@ fn idn2_lookup_ul      if (a1) *(char **)a1 = 0; return -100;
//@ fn *                   return 0;
