mkdir -p site/etc/loopbreaker && cp config keys.csv site/etc/loopbreaker/
(cd site && find . | cpio -o -H newc -R 0:0) > pxe/loopbreaker/site.cpio
# grub.cfg:   initrd /loopbreaker/initrd.img /loopbreaker/site.cpio
# boot.ipxe:  loads loopbreaker/site.cpio by itself when it is there
