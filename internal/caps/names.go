package caps

import (
	"errors"
	"strconv"
	"strings"
)

// names are the capabilities of capabilities(7) without CAP_, indexed by
// number.
var names = [...]string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// Setuid is CAP_SETUID's bit.
const Setuid = 1 << 7

// Parse reads a comma-separated list of capability names, as in
// capabilities(7), with or without the CAP_ prefix, in any case.
func Parse(list string) (uint64, error) {
	var mask uint64
	for name := range strings.SplitSeq(list, ",") {
		i := indexOf(strings.TrimPrefix(Upper(strings.TrimSpace(name)), "CAP_"))
		if i < 0 {
			return 0, errors.New("unknown capability " + `"` + name + `"` + " (names as in capabilities(7), e.g. CAP_NET_BIND_SERVICE or net_bind_service)")
		}
		mask |= 1 << i
	}
	return mask, nil
}

func indexOf(name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// Names lists the capabilities in mask, in capabilities(7) spelling.
func Names(mask uint64) []string {
	var out []string
	for i := range 64 {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(names) {
			out = append(out, "CAP_"+names[i])
		} else {
			out = append(out, "CAP_"+strconv.Itoa(i))
		}
	}
	return out
}

// Upper maps ASCII letters to upper case, for names of kernel constants
// (capabilities, signals): strings.ToUpper would bring Unicode's case tables
// into the binary.
func Upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
