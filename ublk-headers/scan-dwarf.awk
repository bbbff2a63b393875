# Input: `readelf --debug-dump=rawline` then `--debug-dump=info` of a DWARF 5
# object built with -fno-eliminate-unused-debug-types. DWARF is used because C
# has no other way to enumerate a struct's members, and anonymous unions (as in
# io_uring_sqe) need their members lifted to the enclosing struct.
# Prints probe-list.h lines: STRUCT(s) and FIELD(s, m) for every struct defined
# in linux/ublk_cmd.h or linux/io_uring.h (plus -v extra="name ..."), and
# CONST(e) for every enumerator of their enums.
BEGIN {
	n = split(extra, x, " ")
	for (i = 1; i <= n; i++) wanted_struct[x[i]] = 1
}
function value(s) { sub(/^[^:]*: */, "", s); sub(/.*: /, "", s); return s }

/The Directory Table/	{ table = "dir"; next }
/The File Name Table/	{ table = "file"; next }
table != "" && !/^  [0-9]+\t/ && !/Entry\t/ { table = "" }
table == "dir" && /^  [0-9]+\t/ { dir[$1] = value($0); next }
table == "file" && /^  [0-9]+\t/ {
	path = dir[$2] "/" value($0)
	if (path ~ /\/linux\/(ublk_cmd|io_uring)\.h$/) wanted_file[$1] = 1
	next
}

match($0, /^ *<[0-9]+><[0-9a-f]+>: Abbrev Number: [0-9]+ \(DW_TAG_[a-z_]+\)/) {
	split($1, p, /[<>]/)		# " <depth><offset>:" -> p[2], p[4]
	die = p[4]; depth = p[2] + 0
	tag[die] = $NF; gsub(/[()]/, "", tag[die])
	stack[depth] = die
	if (depth == 1) top[++ntop] = die
	else { par = stack[depth - 1]; kids[par, ++nkids[par]] = die }
	next
}
/^ *<[0-9]+><[0-9a-f]+>: Abbrev Number: 0/ { die = ""; next }
die != "" && /DW_AT_name/	{ name[die] = value($0) }
die != "" && /DW_AT_type/	{ t = value($0); gsub(/[<>]|0x/, "", t); type[die] = t }
die != "" && /DW_AT_decl_file/	{ split(value($0), f, " "); file[die] = f[1] }
die != "" && /DW_AT_declaration/	{ decl[die] = 1 }
die != "" && /DW_AT_(data_)?bit_(size|offset)/	{ bits[die] = 1 }

function members(s, t,    i, m) {
	for (i = 1; i <= nkids[t]; i++) {
		m = kids[t, i]
		if (tag[m] != "DW_TAG_member") continue
		if (name[m] == "") members(s, type[m])	# anonymous struct/union
		else if (bits[m]) print "bit-field " s "." name[m] " skipped" > "/dev/stderr"
		else print "FIELD(" s ", " name[m] ")"
	}
}

END {
	for (i = 1; i <= ntop; i++) {
		d = top[i]
		if (tag[d] == "DW_TAG_structure_type" && name[d] != "" && !decl[d] &&
		    (wanted_file[file[d]] || wanted_struct[name[d]])) {
			print "STRUCT(" name[d] ")"
			members(name[d], d)
		} else if (tag[d] == "DW_TAG_enumeration_type" && wanted_file[file[d]]) {
			for (j = 1; j <= nkids[d]; j++)
				print "CONST(" name[kids[d, j]] ")"
		}
	}
}
