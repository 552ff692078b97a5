#!/bin/sh
# ugbench hook: mamori with its worker stopped (SIGSTOP) for the whole run —
# the decision latency while the worker does not answer, next to the normal
# figure (issue 11, make bench). The same setup as mamori.sh; once the first
# worker has handed the policy to the gate (its control socket exists, then
# 1 s), the command stops every mamori-worker mamorid runs (supervision
# replaces a stopped one after 20 s: the replacement is stopped too) and
# kills the stopped ones when mamorid exits.
#   usage: mamori-stopped.sh WORKDIR      env: MAMORI_BIN, UGBENCH_TESTBED
set -eu
wd=$1
sh "$(dirname "$0")/mamori.sh" "$wd"
cat > "$wd/mamorid.sh" <<EOS
#!/bin/sh
(
	stopped=""
	i=0
	while [ ! -S $UGBENCH_TESTBED/run/mamori/mamorid.sock ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
	sleep 1
	while kill -0 \$\$ 2>/dev/null; do
		for w in \$(pgrep -P \$\$ -x mamori-worker); do kill -STOP "\$w" && stopped="\$stopped \$w"; done
		sleep 0.2
	done
	for w in \$stopped; do kill -KILL "\$w" 2>/dev/null; done
) &
exec $MAMORI_BIN/mamorid --root $UGBENCH_TESTBED --foreground
EOS
