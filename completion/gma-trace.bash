# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bash completion for gma-trace(8). Works with or without the bash-completion package.

# PIDs of KVM VMs: from `gma-trace vms -j` as root, else the processes of this user that
# hold /dev/kvm open.
_gma_trace_vm_pids()
{
	local cmd=$1
	if [[ $EUID -eq 0 ]] && command -v "$cmd" >/dev/null 2>&1; then
		"$cmd" vms -j 2>/dev/null | grep -o '"pid":[0-9]*' | cut -d: -f2
		return
	fi
	local fd
	for fd in /proc/[0-9]*/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == /dev/kvm ]] || continue
		fd=${fd#/proc/}
		echo "${fd%%/*}"
	done | sort -u
}

_gma_trace_files()
{
	if declare -F _filedir >/dev/null; then
		_filedir
	else
		local IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$1"))
	fi
}

_gma_trace()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmds="vms mem rings ring health"
	local common="--help --usage --version"
	local sub= i

	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		vms | mem | rings | ring | health)
			sub=${COMP_WORDS[i]}
			break
			;;
		esac
	done
	if [[ -z $sub ]]; then
		COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
		return
	fi
	# rings|health -- COMMAND ARGS: complete the VMM command line
	if [[ $sub == rings || $sub == health ]]; then
		for ((i = i + 1; i < COMP_CWORD; i++)); do
			if [[ ${COMP_WORDS[i]} == -- ]]; then
				if declare -F _command_offset >/dev/null; then
					_command_offset $((i + 1))
				elif ((COMP_CWORD == i + 1)); then
					COMPREPLY=($(compgen -c -- "$cur"))
				else
					_gma_trace_files "$cur"
				fi
				return
			fi
		done
	fi

	case $prev in
	-p | --pid)
		COMPREPLY=($(compgen -W "$(_gma_trace_vm_pids "${COMP_WORDS[0]}")" -- "$cur"))
		return
		;;
	--dump | --map)
		_gma_trace_files "$cur"
		return
		;;
	--qmp | --btf)
		_gma_trace_files "$cur"
		return
		;;
	--queue)
		COMPREPLY=($(compgen -W "base=" -- "$cur"))
		compopt -o nospace 2>/dev/null
		return
		;;
	-a | --gpa | -n | --len | --timeout-ms | --interval-ms | --stuck-ms | --mmio | \
		--snap-len | --duration | --ringbuf-size | --ring-poll-ms | --ecam)
		return # a number
		;;
	esac

	local opts
	case $sub in
	vms) opts="--json --verbose" ;;
	mem) opts="--pid --gpa --len --via-bpf --timeout-ms --btf --json --verbose" ;;
	rings)
		opts="--pid --json --stats --indices-only --interval-ms --completions --descs --stuck-ms"
		opts+=" --mmio --queue --qmp --ecam --wait --snap-len --duration --ringbuf-size"
		opts+=" --ring-poll-ms"
		opts+=" --btf --verbose --"
		;;
	ring) opts="--pid --dump --map --queue --qmp --snap-len --descs --json --verbose" ;;
	health)
		opts="--pid --json --all --stuck-ms --duration --watch --interval-ms --mmio --queue --qmp --ecam"
		opts+=" --wait --btf --verbose --"
		;;
	esac
	COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
}

complete -F _gma_trace gma-trace
