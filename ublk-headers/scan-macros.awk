# Input: `gcc -E -dD` output. Prints the object-like macros #defined directly in
# linux/ublk_cmd.h (UBLK_*/UBLKSRV_* only, as promised to the Java side) and
# linux/io_uring.h (all of them), one name a line.
/^# [0-9]+ "/ {
	match($0, /"[^"]*"/)
	file = substr($0, RSTART + 1, RLENGTH - 2)
	next
}
/^#define / && $2 !~ /\(/ {
	if (file ~ /\/linux\/ublk_cmd\.h$/ && $2 ~ /^UBLK(SRV)?_/)
		print $2
	else if (file ~ /\/linux\/io_uring\.h$/)
		print $2
}
