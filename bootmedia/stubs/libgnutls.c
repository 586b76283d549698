/* libgnutls: in the boot image only libnbd links it, for nbds:// (NBD over
 * TLS) exports; libcurl uses OpenSSL.  libnbd calls GnuTLS only when a
 * connection asks for TLS (nbds:// URIs, nbd_set_tls), never at load or
 * for nbd:// and nbd+unix://.  There gnutls_init and every other call fail
 * with GNUTLS_E_UNIMPLEMENTED_FEATURE (-1250), which libnbd reports through
 * gnutls_strerror; the frees and setters do nothing, the getters return 0.
 * So nbds:// is refused with a message inside the boot image, nbd:// works.
 * Without it, p11-kit, libtasn1, libunistring, libidn2, hogweed, gmp and
 * libffi are no longer needed (nettle stays: libarchive links it). */
//@ for libnbd.so.0
//@ fn gnutls_strerror                  return (long)"GnuTLS is not in the loopbreaker boot image (nbds:// unavailable)";
//@ fn gnutls_*_get_name                return (long)"none";
//@ fn gnutls_error_is_fatal            return 1;
//@ fn gnutls_*_get*                    return 0;
//@ fn gnutls_record_check_pending      return 0;
//@ fn gnutls_transport_is_ktls_enabled return 0;
//@ fn *                                return -1250;
