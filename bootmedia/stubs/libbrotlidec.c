/* libbrotlidec: libcurl decodes a "Content-Encoding: br" response only when
 * the caller asked for content decoding (CURLOPT_ACCEPT_ENCODING), which
 * loopbreaker never does (and it discards the collector's response body).
 * BrotliDecoderCreateInstance returns NULL (curl: out of memory),
 * DecompressStream BROTLI_DECODER_RESULT_ERROR (0), GetErrorCode
 * BROTLI_DECODER_ERROR_UNREACHABLE (-31), the version 0.  Without it,
 * libbrotlicommon is no longer needed. */
//@ for libcurl.so.4
//@ fn BrotliDecoderGetErrorCode  return -31;
//@ fn *                          return 0;
