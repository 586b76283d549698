apt-get() { echo "(doc-test: apt-get $* not run)"; }; set -e
apt-get install nginx     # and the loopbreaker binary, e.g. in /usr/local/bin
install -d -o www-data -g www-data -m 0750 /work/wt-boot/tests-work/shell-docs/root/srv/loopbreaker/reports /work/wt-boot/tests-work/shell-docs/root/srv/loopbreaker/tmp
install -d -o www-data -g www-data -m 0755 /work/wt-boot/tests-work/shell-docs/root/srv/loopbreaker/dashboard
head -c 32 /dev/urandom | base64 | tr -d '/+=' > /work/wt-boot/tests-work/shell-docs/root/etc/nginx/loopbreaker.token  # goes on the sticks
printf 'incident:%s\n' "$(openssl passwd -6)" > /work/wt-boot/tests-work/shell-docs/root/etc/nginx/loopbreaker.htpasswd   # asks for the dashboard password
chmod 0640 /work/wt-boot/tests-work/shell-docs/root/etc/nginx/loopbreaker.token /work/wt-boot/tests-work/shell-docs/root/etc/nginx/loopbreaker.htpasswd
chgrp www-data /work/wt-boot/tests-work/shell-docs/root/etc/nginx/loopbreaker.htpasswd
