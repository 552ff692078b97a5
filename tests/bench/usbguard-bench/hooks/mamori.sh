#!/bin/sh
# ugbench hook for mamori: turns $UGBENCH_DEVICES (devices.tsv: when vid pid
# serial product expect) into a policy document with one allow rule per
# allowed device (vendor + product + serial, MEDIA-1) and default block.
#   usage: mamori.sh WORKDIR
set -eu
wd=$1
devices=${UGBENCH_DEVICES:-$wd/devices.tsv}
awk -F '\t' '
BEGIN { printf "{\"schema\":1,\"version\":1,\"segment\":\"lgwan\",\"usb\":{\"default\":\"block\",\"present_devices\":\"apply\",\"rules\":[" }
!/^#/ && $6 == "allow" {
    gsub(/["\\]/, "", $4)
    printf "%s{\"id\":\"bench-%d\",\"action\":\"allow\",\"match\":{\"vendor\":\"%s\",\"product\":\"%s\",\"serial\":\"%s\"},\"requirements\":[\"MEDIA-1\"]}", (n++ ? "," : ""), n, tolower($2), tolower($3), $4
}
END { print "]}}" }' "$devices" > "$wd/policy.json"
