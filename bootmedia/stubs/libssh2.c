/* libssh2: only scp:// and sftp:// URLs, which loopbreaker never lets curl
 * use (CURLOPT_PROTOCOLS_STR "http,https").  curl_global_init calls
 * libssh2_init (must succeed: 0) and curl_global_cleanup libssh2_exit.
 * The calls that return a pointer (sessions, channels, sftp handles,
 * agent, known hosts, host keys, version) return NULL; the others
 * LIBSSH2_ERROR_SOCKET_NONE (-1). */
//@ for libcurl.so.4
//@ fn libssh2_init             return 0;
//@ fn libssh2_*_init*          return 0;
//@ fn libssh2_sftp_open_ex     return 0;
//@ fn libssh2_scp_*            return 0;
//@ fn libssh2_*hostkey*        return 0;
//@ fn libssh2_userauth_list    return 0;
//@ fn libssh2_session_abstract return 0;
//@ fn libssh2_session_callback_set return 0;
//@ fn libssh2_version          return 0;
//@ fn libssh2_knownhost_get    return 1;
//@ fn *                        return -1;
