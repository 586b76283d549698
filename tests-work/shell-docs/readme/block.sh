build/loopbreaker scan disk.img                 # what is wrong? never writes
build/loopbreaker fix --evidence ev.tar.zst --report r.json disk.img  # back up, quarantine, report
build/loopbreaker fix                           # every local disk (not the boot medium)
build/loopbreaker fix --keys bitlocker-keys.csv laptop.img      # BitLocker, key from the escrow export
build/loopbreaker fix --playbook disable-driver --param service=CSAgent --evidence ev2.tar.zst disk.img
build/loopbreaker fix --jobs 2 --report-dir reports vm-*.img    # many VM disks
build/loopbreaker undo ev.tar.zst disk.img     # put back what that fix changed
build/loopbreaker keys seal --passphrase-file p -o keys.sealed ad-export.csv
build/loopbreaker fleet reports/ -o dashboard/  # fleet.csv + fleet.html
build/loopbreaker ls disk.img '\Windows\System32\drivers\CrowdStrike'
