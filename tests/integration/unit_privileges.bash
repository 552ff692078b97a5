# tests/integration/unit_privileges.bash — derive setpriv(1) arguments from
# installer/mamorid.service by PARSING it (issue 11.6): CapabilityBoundingSet,
# AmbientCapabilities, SecureBits, NoNewPrivileges. Never a hand-copied list.
# Unknown SecureBits words or capability names are an error (fail closed).
# Usage: unit_setpriv_args UNIT_FILE  → prints one setpriv argument per line.
unit_value() { # last assignment wins, as in systemd; empty assignment resets
	local unit=$1 key=$2 v=
	while IFS= read -r line; do
		[[ $line =~ ^$key=(.*)$ ]] && { [[ -z ${BASH_REMATCH[1]} ]] && v= || v="$v ${BASH_REMATCH[1]}"; }
	done <"$unit"
	printf '%s\n' "$v"
}
caps_list() { # "CAP_A CAP_B" -> "-all,+a,+b"
	local out=-all c
	for c in $1; do
		[[ $c =~ ^CAP_[A-Z_]+$ ]] || { echo "unit_privileges: unknown capability '$c'" >&2; return 1; }
		c=${c#CAP_}
		out+=",+${c,,}"
	done
	printf '%s\n' "$out"
}
unit_setpriv_args() {
	local unit=$1 bset amb sb nnp bits=
	bset=$(unit_value "$unit" CapabilityBoundingSet)
	amb=$(unit_value "$unit" AmbientCapabilities)
	sb=$(unit_value "$unit" SecureBits)
	nnp=$(unit_value "$unit" NoNewPrivileges)
	[[ -n ${bset// /} ]] || { echo "unit_privileges: no CapabilityBoundingSet in $unit" >&2; return 1; }
	echo "--bounding-set=$(caps_list "$bset")" || return 1
	# ambient capabilities must also be inheritable (capabilities(7))
	echo "--inh-caps=$(caps_list "$amb")"
	echo "--ambient-caps=$(caps_list "$amb")"
	for w in $sb; do
		case $w in
		keep-caps) bits+=",+keep_caps" ;;
		keep-caps-locked) bits+=",+keep_caps_locked" ;;
		no-setuid-fixup) bits+=",+no_setuid_fixup" ;;
		no-setuid-fixup-locked) bits+=",+no_setuid_fixup_locked" ;;
		noroot) bits+=",+noroot" ;;
		noroot-locked) bits+=",+noroot_locked" ;;
		*) echo "unit_privileges: unknown SecureBits word '$w'" >&2; return 1 ;;
		esac
	done
	# systemd ORs the words; noroot-locked alone sets only the LOCK bit, which
	# pins noroot OFF — a unit that locks noroot without setting it says one
	# thing and does another: refused (fail closed on the ambiguous)
	if [[ " $sb " == *" noroot-locked "* && " $sb " != *" noroot "* ]]; then
		echo "unit_privileges: SecureBits=noroot-locked without noroot locks the noroot bit OFF (write 'noroot noroot-locked')" >&2
		return 1
	fi
	[[ -n $bits ]] && echo "--securebits=${bits#,}"
	case ${nnp// /} in
	yes | true | on | 1) echo "--no-new-privs" ;;
	"" | no | false | off | 0) ;;
	*) echo "unit_privileges: NoNewPrivileges='$nnp' not understood" >&2; return 1 ;;
	esac
}

# unit_syscall_lists UNIT ALLOW_FILE DENY_FILE: SystemCallFilter= as two
# lists of syscall names, each group expanded with `systemd-analyze
# syscall-filter` (recursively). Only the unit's own form is accepted: an
# allow list first, then "~" lines that remove from it; SystemCallErrorNumber=
# EPERM; SystemCallArchitectures=native. Anything else: an error.
unit_expand_syscalls() {
	local x=$1 y
	if [[ $x == @* ]]; then
		local out
		out=$(systemd-analyze syscall-filter "$x" 2>/dev/null) || { echo "unit_privileges: unknown syscall group $x" >&2; return 1; }
		while read -r y; do
			[[ -z $y || $y == \#* || $y == "$x" ]] && continue
			unit_expand_syscalls "$y" || return 1
		done <<<"$out"
	else
		[[ $x =~ ^[a-z0-9_]+$ ]] || { echo "unit_privileges: bad syscall name '$x'" >&2; return 1; }
		echo "$x"
	fi
}
unit_syscall_lists() {
	local unit=$1 allow=$2 deny=$3 line v first=1 w
	: >"$allow"
	: >"$deny"
	while IFS= read -r line; do
		[[ $line =~ ^SystemCallFilter=(.*)$ ]] || continue
		v=${BASH_REMATCH[1]}
		[[ -n $v ]] || { echo "unit_privileges: empty SystemCallFilter= (reset) not supported" >&2; return 1; }
		if [[ $v == ~* ]]; then
			((first == 0)) || { echo "unit_privileges: a deny-list SystemCallFilter= first is not the unit's form" >&2; return 1; }
			for w in ${v#\~}; do unit_expand_syscalls "$w" >>"$deny" || return 1; done
		else
			first=0
			for w in $v; do unit_expand_syscalls "$w" >>"$allow" || return 1; done
		fi
	done <"$unit"
	[[ -s $allow ]] || { echo "unit_privileges: no SystemCallFilter= allow list in $unit" >&2; return 1; }
	[[ $(unit_value "$unit" SystemCallErrorNumber | xargs) == EPERM ]] ||
		{ echo "unit_privileges: SystemCallErrorNumber= other than EPERM not supported" >&2; return 1; }
	[[ $(unit_value "$unit" SystemCallArchitectures | xargs) == native ]] ||
		{ echo "unit_privileges: SystemCallArchitectures= other than native not supported" >&2; return 1; }
	sort -u -o "$allow" "$allow"
	sort -u -o "$deny" "$deny"
}
