apt-get() { echo "(doc-test: apt-get $* not run)"; }; set -e
# once: an internal CA; keep ca.key offline, collector-ca.pem goes on the sticks
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Example Corp loopbreaker collector CA" -keyout ca.key -out collector-ca.pem
# the collector's certificate, signed by that CA
printf 'subjectAltName = DNS:collector.example.org, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' > collector.ext
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=collector.example.org" \
    -keyout /work/wt-boot/tests-work/shell-docs/root/etc/ssl/private/collector.example.org.key -out collector.csr
openssl x509 -req -in collector.csr -CA collector-ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile collector.ext -out /work/wt-boot/tests-work/shell-docs/root/etc/ssl/certs/collector.example.org.pem
chmod 0600 /work/wt-boot/tests-work/shell-docs/root/etc/ssl/private/collector.example.org.key
openssl x509 -noout -ext subjectAltName -in /work/wt-boot/tests-work/shell-docs/root/etc/ssl/certs/collector.example.org.pem   # check
