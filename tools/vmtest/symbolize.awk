# Resolves kernel addresses of a hang report (tools/vmtest/run.sh) to symbol+offset.
#
# awk -f symbolize.awk SYMBOLS QUERIES
#   SYMBOLS  "ADDRESS TYPE NAME [MODULE]" sorted by address, 16 lower-case hex digits each: the
#            VM's /proc/kallsyms (Debian's System.map is a placeholder; the VM boots with
#            nokaslr, so the kernel's addresses are the same on every boot)
#   QUERIES  "LABEL ADDRESS [REST...]", ADDRESS in hex with or without 0x
# Prints "LABEL ADDRESS SYMBOL+0xOFF [MODULE] REST..." for an address inside kernel or module
# text and, unless -v text_only=1, "LABEL ADDRESS ? REST..." for any other. Addresses are
# compared as strings (awk's numbers are doubles, not 64-bit); offsets come from the low 32
# bits, enough within one function.

function hexval(h,    i, v) {
	v = 0
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}

FNR == NR {
	if ($2 !~ /^[tTwW]$/)
		next
	n++
	addr[n] = tolower($1) ""
	name[n] = $3
	mod[n] = NF >= 4 ? " " $4 : ""
	if ($3 == "_stext")
		stext = addr[n]
	if ($3 == "_etext")
		etext = addr[n]
	next
}

{
	a = tolower($2)
	sub(/^0x/, "", a)
	while (length(a) < 16)
		a = "0" a
	a = a ""
	rest = ""
	for (i = 3; i <= NF; i++)
		rest = rest " " $i
	# the last symbol at or below a (binary search)
	lo = 1
	hi = n
	best = 0
	while (lo <= hi) {
		mid = int((lo + hi) / 2)
		if (addr[mid] <= a) {
			best = mid
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	ok = 0
	if (best && substr(a, 1, 8) == substr(addr[best], 1, 8)) {
		off = hexval(substr(a, 9)) - hexval(substr(addr[best], 9))
		# kernel text, or within 64 KiB of a module's text symbol
		if (etext != "" && a >= stext && a < etext)
			ok = 1
		else if (mod[best] != "" && off < 65536)
			ok = 1
	}
	if (ok)
		printf "%s %s %s+0x%x%s%s\n", $1, a, name[best], off, mod[best], rest
	else if (!text_only)
		printf "%s %s ?%s\n", $1, a, rest
}
