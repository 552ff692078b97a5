#!/usr/bin/env bash
# tests/integration/groundtruth_login.sh — LOCK-2 against real PAM (issue 21):
# per variant of a Debian 12 root's PAM stacks, the verdict of
# login.password_required and login.faillock computed by running libpam
# itself (pamtester on the root's "login" service, the root's pam_unix and
# pam_faillock), never written by hand; mamori's verdict must be the same.
#   password_required: fail when pamtester authenticates an account that has
#     a password with a wrong one, or an account with an empty hash (a probe
#     account added after mamori ran, and every such account of the variant)
#     with an empty password.
#   faillock: after the policy's deny wrong passwords the right one must be
#     refused, and still be refused once the failures are (unlock_time - 60) s
#     old (pam_faillock's own tally file, its timestamps moved back).
# Needs root (chroot, overlayfs). The first run builds the root (~3 min).
cd "$(dirname "$0")/../.."
: "${MAMORI_SRC:=$PWD}"
source tests/groundtruth/lib.bash

RIGHT='Right-Pass-2026!x'
gt_unpack
chroot "$GT_BASE" useradd -m -s /bin/bash gtuser
printf 'gtuser:%s\n' "$RIGHT" | chroot "$GT_BASE" chpasswd 2>/dev/null
mkdir -p "$GT_BASE/run/faillock"

# pamtester on the login service: 0 when libpam says PAM_SUCCESS
pt() { printf '%s\n' "$2" | chroot "$GT_V" pamtester login "$1" authenticate >/dev/null 2>&1; }
# a wrong password: 0 when libpam refused it (pamtester printed the PAM
# error of pam_authenticate), 1 when it authenticated or never got there
# (tried up to three times: a fork or exec failing under load is not PAM)
pt_wrong() {
	local out try
	for try in 1 2 3; do
		out=$(printf '%s\n' "$2" | chroot "$GT_V" pamtester login "$1" authenticate 2>&1) && return 1
		grep -qE '(^|: )pamtester: (Authentication failure|Authentication token is no longer valid|Maximum number of tries exceeded|User not known|Permission denied)' <<<"$out" && return 0
		echo "groundtruth_login: pamtester attempt $try: ${out//$'\n'/ | }" >&2
	done
	return 1
}
# records in pam_faillock's tally file (64 bytes each, faillock.h)
tally_records() {
	local f=$GT_V/run/faillock/$1
	[[ -f $f ]] && echo $(($(stat -c %s "$f") / 64)) || echo 0
}

real_password_required() {
	local d=$GT_D/probe u pids=() n=0
	rm -rf "$d" && mkdir -p "$d"
	# a probe account with an empty hash, added after mamori looked
	echo 'gtprobe:x:4999:4999::/nonexistent:/bin/bash' >>"$GT_V/etc/passwd"
	echo 'gtprobe::19700:0:99999:7:::' >>"$GT_V/etc/shadow"
	(pt gtuser 'Wrong-Pass-1' && touch "$d/gtuser-wrong") &
	pids+=($!)
	for u in $(awk -F: '$2 == "" {print $1}' "$GT_V/etc/shadow"); do
		(pt "$u" '' && touch "$d/$u-empty") &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	n=$(find "$d" -type f | wc -l)
	gt_detail "authenticated: $(cd "$d" && ls | tr '\n' ' ')"
	((n == 0)) && echo pass || echo fail
}

real_faillock() {
	local policy deny unlock i recs
	policy=$(gt_evidence login.faillock policy) # "deny<=5 unlock_time>=900"
	deny=$(sed -E 's/.*deny<=([0-9]+).*/\1/' <<<"$policy")
	unlock=$(sed -E 's/.*unlock_time>=([0-9]+).*/\1/' <<<"$policy")
	rm -rf "$GT_V/run/faillock" && mkdir -p "$GT_V/run/faillock"
	if ! pt gtuser "$RIGHT"; then
		gt_detail "the right password is refused before any failure (broken variant)"
		echo broken
		return
	fi
	# One wrong password after the other, each confirmed to have reached
	# libpam's verdict: run at the same time, an attempt that never got to
	# pam_authenticate (or a tally update raced away) made the oracle count
	# fewer failures than it claimed, and so "logged in after 5 failures"
	# on a compliant stack once in a while (required-preauth, make fresh).
	for ((i = 0; i < deny; i++)); do
		if ! pt_wrong gtuser "Wrong-Pass-$i"; then
			gt_detail "pamtester did not reach libpam's verdict for wrong password $i (oracle broken)"
			echo broken
			return
		fi
	done
	recs=$(tally_records gtuser)
	if pt gtuser "$RIGHT"; then
		gt_detail "logged in after $deny failures ($recs in pam_faillock's tally)"
		echo fail
		return
	fi
	# the failures, (unlock - 60) s ago: pam_faillock decides whether that unlocks
	perl -e '
		my ($f, $d) = @ARGV; open(my $h, "+<", $f) or die "$f: $!"; binmode $h;
		local $/; my $b = <$h>;
		for (my $o = 0; $o + 64 <= length $b; $o += 64) {
			my $t = unpack("Q", substr($b, $o + 56, 8)); substr($b, $o + 56, 8) = pack("Q", $t - $d);
		}
		seek($h, 0, 0); print $h $b; close $h;' "$GT_V/run/faillock/gtuser" $((unlock - 60))
	if pt gtuser "$RIGHT"; then
		gt_detail "unlocked after $((unlock - 60)) s"
		echo fail
		return
	fi
	gt_detail "locked after $deny failures and $((unlock - 60)) s later"
	echo pass
}

# bash itself: an interactive login shell of the root, TMOUT's value and flags
real_session_timeout() {
	local out flags val max
	max=$(gt_evidence login.session_timeout max_seconds)
	out=$(chroot "$GT_V" env -i HOME=/root TERM=dumb bash -lic 'declare -p TMOUT' 2>/dev/null | grep 'TMOUT' || true)
	gt_detail "bash: ${out:-TMOUT unset}"
	flags=$(sed -nE 's/^declare -([a-zA-Z-]+) TMOUT=.*/\1/p' <<<"$out")
	val=$(sed -nE 's/^declare -[a-zA-Z-]+ TMOUT="?([0-9]+)"?$/\1/p' <<<"$out")
	if [[ $flags == *r* && -n $val ]] && ((val > 0 && val <= max)); then echo pass; else echo fail; fi
}

# libpwquality itself: pwscore in the root (dictcheck off in every variant:
# minbase has no cracklib dictionary). fail when it accepts a password one
# shorter than the policy's minlen (4 classes), or a long one with one class
# fewer than the policy's.
pw_of() { # length classes
	local pool
	case $2 in 4) pool='kQ7#mW2!xR9$vT4%pL6&nB8*' ;; 3) pool='kQ7mW2xR9vT4pL6nB8cJ5' ;;
	2) pool='kq7mw2xr9vt4pl6nb8cj5dh3' ;; *) pool='kqmwxrvtplnbcjdhgfzsyeua' ;; esac
	while ((${#pool} < $1)); do pool+=$pool; done
	echo "${pool:0:$1}"
}
real_pwquality() {
	local policy minlen classes a=no b=no
	policy=$(gt_evidence login.pwquality policy) # "minlen>=12 classes>=3"
	minlen=$(sed -E 's/.*minlen>=([0-9]+).*/\1/' <<<"$policy")
	classes=$(sed -E 's/.*classes>=([0-9]+).*/\1/' <<<"$policy")
	if ! pw_of $((minlen + 2)) 4 | chroot "$GT_V" pwscore >/dev/null 2>&1; then
		gt_detail "pwscore refuses even a compliant password (broken variant)"
		echo broken
		return
	fi
	pw_of $((minlen - 1)) 4 | chroot "$GT_V" pwscore >/dev/null 2>&1 && a=yes
	if ((classes > 1)); then pw_of $((minlen + 4)) $((classes - 1)) | chroot "$GT_V" pwscore >/dev/null 2>&1 && b=yes; fi
	gt_detail "pwscore accepts: $((minlen - 1)) chars/4 classes=$a, $((minlen + 4)) chars/$((classes - 1)) classes=$b"
	[[ $a == no && $b == no ]] && echo pass || echo fail
}

real_verdict() {
	case $1 in
	login.pwquality) real_pwquality ;;
	login.session_timeout) real_session_timeout ;;
	login.password_required) real_password_required ;;
	login.faillock) real_faillock ;;
	esac
}
run_variant() { gt_run real_verdict "$@"; }

ca=etc/pam.d/common-auth
# --- login.password_required --------------------------------------------
v_debian() { :; } # Debian 12 as installed: pam_unix nullok
v_no_nullok() { sed -i 's/ nullok//' "$GT_V/$ca"; }
v_permit_only() { # D3: a login path of only pam_permit
	v_no_nullok
	sed -i 's/^@include common-auth/auth required pam_permit.so/' "$GT_V/etc/pam.d/login"
}
v_permit_sufficient() { v_no_nullok; sed -i '0,/^auth/s//auth sufficient pam_permit.so\nauth/' "$GT_V/$ca"; }
v_empty_account() { # an account with an empty hash, but no nullok anywhere
	v_no_nullok
	echo 'gtempty:x:4998:4998::/nonexistent:/bin/bash' >>"$GT_V/etc/passwd"
	echo 'gtempty::19700:0:99999:7:::' >>"$GT_V/etc/shadow"
}
v_empty_account_nullok() {
	echo 'gtempty:x:4998:4998::/nonexistent:/bin/bash' >>"$GT_V/etc/passwd"
	echo 'gtempty::19700:0:99999:7:::' >>"$GT_V/etc/shadow"
}
v_jump_over_deny() { # success=2 skips pam_deny: the wrong password still fails at pam_unix? no: ignored
	v_no_nullok
	sed -i 's/\[success=1 default=ignore\]/[success=2 default=ignore]/' "$GT_V/$ca"
	echo 'auth optional pam_permit.so' >>"$GT_V/$ca"
}
v_substack_done() { # done inside a substack ends only the substack
	v_no_nullok
	printf 'auth sufficient pam_permit.so\n' >"$GT_V/etc/pam.d/gt-sub"
	sed -i 's/^@include common-auth/auth substack gt-sub\n@include common-auth/' "$GT_V/etc/pam.d/login"
}
v_include_done() { # the same line included ends the whole stack
	v_no_nullok
	printf 'auth sufficient pam_permit.so\n' >"$GT_V/etc/pam.d/gt-sub"
	sed -i 's/^@include common-auth/auth include gt-sub\n@include common-auth/' "$GT_V/etc/pam.d/login"
}
v_succeed_if() { # pam_succeed_if proves nothing about the password
	v_no_nullok
	sed -i '0,/^auth/s//auth [success=done default=ignore] pam_succeed_if.so uid >= 1000 quiet\nauth/' "$GT_V/$ca"
}
run_variant login.password_required debian-default-nullok v_debian
run_variant login.password_required no-nullok v_no_nullok
run_variant login.password_required D3-permit-required-only v_permit_only
run_variant login.password_required permit-sufficient v_permit_sufficient
run_variant login.password_required empty-account-no-nullok v_empty_account
run_variant login.password_required empty-account-nullok v_empty_account_nullok
run_variant login.password_required jump-over-deny v_jump_over_deny
run_variant login.password_required substack-done v_substack_done
run_variant login.password_required include-done v_include_done
run_variant login.password_required succeed_if-done v_succeed_if

# --- login.faillock -------------------------------------------------------
faillock_stack() { # preauth-control unix-control authfail? authsucc?
	{
		[[ -n $1 ]] && echo "auth $1 pam_faillock.so preauth"
		echo "auth $2 pam_unix.so"
		[[ $3 == yes ]] && echo "auth [default=die] pam_faillock.so authfail"
		[[ $4 == yes ]] && echo "auth sufficient pam_faillock.so authsucc"
		echo "auth requisite pam_deny.so"
		echo "auth required pam_permit.so"
	} >"$GT_V/$ca"
	printf 'account required pam_faillock.so\n' >>"$GT_V/etc/pam.d/common-account"
	printf 'deny = 5\nunlock_time = 900\n' >"$GT_V/etc/security/faillock.conf"
}
f_compliant() { faillock_stack requisite '[success=2 default=ignore]' yes no; }
f_required_preauth() { faillock_stack required '[success=2 default=ignore]' yes no; }
f_no_preauth() { faillock_stack '' '[success=2 default=ignore]' yes no; }
f_optional_preauth() { faillock_stack optional '[success=2 default=ignore]' yes no; }
f_no_authfail() { faillock_stack requisite '[success=1 default=ignore]' no no; }
f_deny10() { f_compliant; sed -i 's/deny = 5/deny = 10/' "$GT_V/etc/security/faillock.conf"; }
f_deny3() { f_compliant; sed -i 's/deny = 5/deny = 3/' "$GT_V/etc/security/faillock.conf"; }
f_unlock120() { f_compliant; sed -i 's/unlock_time = 900/unlock_time = 120/' "$GT_V/etc/security/faillock.conf"; }
f_unlock0() { f_compliant; sed -i 's/unlock_time = 900/unlock_time = 0/' "$GT_V/etc/security/faillock.conf"; }
f_args_win() { f_compliant; sed -i 's/preauth$/preauth deny=10/; s/authfail$/authfail deny=10/' "$GT_V/$ca"; }
f_authsucc_no_preauth() { # pam_faillock(8)'s second example: authsucc refuses a locked account
	faillock_stack '' '[success=1 default=bad]' yes yes
}
f_rhel() { # RHEL's system-auth layout: required preauth, sufficient pam_unix
	{
		echo "auth required pam_env.so"
		echo "auth required pam_faillock.so preauth silent"
		echo "auth sufficient pam_unix.so"
		echo "auth [default=die] pam_faillock.so authfail"
		echo "auth required pam_deny.so"
	} >"$GT_V/$ca"
	printf 'deny = 5\nunlock_time = 900\n' >"$GT_V/etc/security/faillock.conf"
}
run_variant login.faillock compliant-requisite-preauth f_compliant
run_variant login.faillock required-preauth f_required_preauth
run_variant login.faillock D1-no-preauth f_no_preauth
run_variant login.faillock D1-optional-preauth f_optional_preauth
run_variant login.faillock no-authfail f_no_authfail
run_variant login.faillock deny-10 f_deny10
run_variant login.faillock deny-3 f_deny3
run_variant login.faillock unlock_time-120 f_unlock120
run_variant login.faillock unlock_time-0 f_unlock0
run_variant login.faillock line-args-deny-10 f_args_win
run_variant login.faillock authsucc-no-preauth f_authsucc_no_preauth
run_variant login.faillock rhel-sufficient-unix f_rhel

# --- login.pwquality: libpwquality's file order (pwscore) -------------------
pq=etc/security
pwq() { mkdir -p "$GT_V/$pq/pwquality.conf.d"; echo 'dictcheck = 0' >"$GT_V/$pq/pwquality.conf.d/00-gt.conf"; }
q_default() { pwq; }
q_main() { pwq; printf 'minlen = 12\nminclass = 3\n' >>"$GT_V/$pq/pwquality.conf"; }
q_main_wins() { pwq; printf 'minlen = 8\nminclass = 3\n' >>"$GT_V/$pq/pwquality.conf"; printf 'minlen = 14\n' >"$GT_V/$pq/pwquality.conf.d/90-site.conf"; }
q_dropin_only() { pwq; printf 'minlen = 12\nminclass = 3\n' >"$GT_V/$pq/pwquality.conf.d/90-site.conf"; }
q_main_over_weak_dropin() { pwq; printf 'minlen = 12\nminclass = 3\n' >>"$GT_V/$pq/pwquality.conf"; printf 'minlen = 8\nminclass = 1\n' >"$GT_V/$pq/pwquality.conf.d/90-site.conf"; }
q_two_classes() { pwq; printf 'minlen = 12\nminclass = 2\n' >>"$GT_V/$pq/pwquality.conf"; }
for v in debian-default:q_default main-12-3:q_main main-8-over-dropin-14:q_main_wins dropin-12-3-only:q_dropin_only \
	main-12-3-over-dropin-8-1:q_main_over_weak_dropin main-12-2:q_two_classes; do
	run_variant login.pwquality "${v%%:*}" "${v#*:}"
done

# --- login.session_timeout: bash's own declare -p ---------------------------
pd=etc/profile.d
tm() { printf '%s\n' "$2" >"$GT_V/$pd/$1"; }
t_none() { :; }
t_readonly() { tm tmout.sh 'readonly TMOUT=900; export TMOUT'; }
t_plain() { tm tmout.sh 'TMOUT=900; export TMOUT'; }
t_declare_xr() { tm tmout.sh 'declare -xr TMOUT=900'; }
t_typeset_xr() { tm tmout.sh 'typeset -xr TMOUT=900'; }
t_declare_rx() { tm tmout.sh 'declare -rx TMOUT=900'; }
t_declare_x_r() { tm tmout.sh 'declare -x -r TMOUT=900'; }
t_export_readonly() { tm tmout.sh 'export readonly TMOUT=900'; }
t_too_long() { tm tmout.sh 'readonly TMOUT=3600'; }
t_ro_first() { tm a.sh 'readonly TMOUT=600'; tm b.sh 'TMOUT=3600'; }
t_ro_last() { tm a.sh 'TMOUT=3600'; tm b.sh 'readonly TMOUT=900'; }
t_export_then_ro() { tm tmout.sh $'export TMOUT=900\nreadonly TMOUT'; }
t_if_then() { tm tmout.sh 'if [ -n "$PS1" ]; then readonly TMOUT=900; fi'; }
t_bashrc() { printf 'readonly TMOUT=900\n' >>"$GT_V/etc/bash.bashrc"; }
for v in none:t_none readonly:t_readonly plain-export:t_plain declare-xr:t_declare_xr typeset-xr:t_typeset_xr \
	declare-rx:t_declare_rx declare-x-r:t_declare_x_r export-readonly:t_export_readonly readonly-3600:t_too_long \
	readonly-600-then-3600:t_ro_first 3600-then-readonly-900:t_ro_last export-then-readonly:t_export_then_ro \
	if-then-readonly:t_if_then bash.bashrc-readonly:t_bashrc; do
	run_variant login.session_timeout "${v%%:*}" "${v#*:}"
done
gt_report
