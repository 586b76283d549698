/* liblber: libcurl's LDAP code only (see libldap.c).  The frees do nothing,
 * ber_sockbuf_add_io fails (-1). */
//@ for libcurl.so.4
//@ fn *  return -1;
