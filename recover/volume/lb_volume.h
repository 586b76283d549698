/* lb_volume.h - the one open sequence: source -> partition -> BitLocker ->
 * $MFTMirr view -> NTFS, shared by scan, fix, undo and ls. */
#ifndef LB_VOLUME_H
#define LB_VOLUME_H
#endif
