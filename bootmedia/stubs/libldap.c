/* libldap: only ldap:// and ldaps:// URLs, which loopbreaker never lets
 * curl use (CURLOPT_PROTOCOLS_STR "http,https").  ldap_err2string returns a
 * fixed message; every other call fails with LDAP_SERVER_DOWN (-1) or does
 * nothing.  Without it (and liblber), SASL and GnuTLS are no longer needed. */
//@ for libcurl.so.4
//@ fn ldap_err2string  return (long)"LDAP is not in the loopbreaker boot image";
//@ fn *                return -1;
