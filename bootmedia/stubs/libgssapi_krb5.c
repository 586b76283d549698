/* libgssapi_krb5: libcurl uses GSS-API for Negotiate/Kerberos
 * authentication, which loopbreaker never enables (no CURLOPT_HTTPAUTH:
 * Basic only), for SOCKS5 GSS-API and FTP; none of these are reached for an
 * http(s) upload.  Every call returns GSS_S_FAILURE (13 << 16) with minor
 * status 0; GSS_C_NT_HOSTBASED_SERVICE is NULL.  Without it, Kerberos
 * (krb5, k5crypto, krb5support, com_err, keyutils) is no longer needed. */
//@ for libcurl.so.4
//@ fn gss_*  if (a0) *(unsigned *)a0 = 0; return 13L << 16;
