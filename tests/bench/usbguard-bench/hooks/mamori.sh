#!/bin/sh
# ugbench hook for mamori: the real mamorid (USB gate) + mamori-worker with
# every module loaded, under the testbed as root prefix. Turns
# $UGBENCH_DEVICES (when vid pid serial product expect) into a signed policy
# with one allow rule per allowed device (vendor + product + serial, MEDIA-1)
# and default block, and writes the command the profile runs.
#   usage: mamori.sh WORKDIR      env: MAMORI_BIN (set by tests/bench/usb.sh)
set -eu
wd=$1
devices=${UGBENCH_DEVICES:-$wd/devices.tsv}
tb=${UGBENCH_TESTBED:?}
bin=${MAMORI_BIN:?}
mkdir -p "$tb/etc/mamori" "$tb/var/lib/mamori"
printf 'language = en\nmodules = all\ncheck_interval = 3600\n' > "$tb/etc/mamori/agent.conf"
awk -F '\t' '
BEGIN { printf "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"requirements\":[\"OPS-1\"],\"usb\":{\"default\":\"block\",\"present_devices\":\"apply\",\"requirements\":[\"MEDIA-1\"],\"rules\":[" }
!/^#/ && $6 == "allow" {
    gsub(/["\\]/, "", $4)
    printf "%s{\"id\":\"bench-%d\",\"action\":\"allow\",\"match\":{\"vendor\":\"%s\",\"product\":\"%s\",\"serial\":\"%s\"},\"requirements\":[\"MEDIA-1\"]}", (n++ ? "," : ""), n, tolower($2), tolower($3), $4
}
END { print "]}}" }' "$devices" > "$tb/var/lib/mamori/policy.json"
"$bin/mamorictl" policy keygen --out "$wd/city" >/dev/null
cp "$wd/city.pub" "$tb/etc/mamori/policy.pub"
"$bin/mamorictl" policy sign --key "$wd/city.key" "$tb/var/lib/mamori/policy.json" >/dev/null
printf '#!/bin/sh\nexec %s/mamorid --root %s --foreground\n' "$bin" "$tb" > "$wd/mamorid.sh"
