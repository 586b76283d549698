/* libicuuc: ICU is linked in only through libarchive -> libxml2, whose
 * encoding conversions loopbreaker never asks for (evidence bundles are
 * tar/zstd; libxml2 reads libvirt's UTF-8 XML without ICU).  The converter
 * opens fail with U_FILE_ACCESS_ERROR (4), so libxml2 reports an unsupported
 * encoding instead of crashing; the rest (close, convert, which are only
 * reached with a converter) return 0.  Without the real libicuuc,
 * libicudata (31 MB) and libstdc++ are no longer needed. */
//@ for libxml2.so.2
//@ fn ucnv_open*  if (a1) *(int *)a1 = 4; return 0;
//@ fn *           return 0;
