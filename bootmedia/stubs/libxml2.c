/* libxml2: in the boot image only libarchive links it, for the XAR format
 * (reading its XML table of contents, writing one), which loopbreaker never
 * writes (evidence bundles are pax/zip) and reads only if handed a XAR file
 * as a bundle.  libarchive's XAR cleanup calls xmlCleanupParser whenever a
 * reader is freed: a no-op here.  Reading a XAR then fails where libarchive
 * checks xmlReaderForIO (NULL: "Couldn't allocate memory for xml parser");
 * the writer and buffer constructors return NULL too, int calls -1, frees
 * do nothing.  libvirt's domain XML (--domain) is not concerned: libvirt is
 * not in the boot image (a "suggested" dlopen feature, build.sh).  Without
 * it, libicuuc (stubbed otherwise) is no longer needed. */
//@ for libarchive.so.13
//@ fn xmlReaderForIO           return 0;
//@ fn xmlNewTextWriter*        return 0;
//@ fn xmlBufferCreate*         return 0;
//@ fn xmlTextReaderConst*      return 0;
//@ fn *                        return -1;
