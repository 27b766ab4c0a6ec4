package caps

import (
	"errors"
	"strconv"
	"strings"

	"gosu/internal/errs"
)

// names are the capabilities of capabilities(7) without CAP_, in order of
// number, each followed by a space: one string costs less than a table of
// them.
const names = "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID " +
	"SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW " +
	"IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT " +
	"SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD " +
	"LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG " +
	"WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE "

// known is the number of names.
const known = 41

// Setuid is CAP_SETUID's bit. Keeping it would let the command undo the
// switch, so gosu never keeps it, whatever the options say.
const Setuid = 1 << 7

// toRoot lists the capabilities that lead back to root, to root's files or
// out of the container's confinement, with the reason from capabilities(7).
// A non-root command keeps one only when the caller insists.
var toRoot = [...]struct {
	cap int
	why string
}{
	{0, "chown any file, e.g. /etc/passwd, to itself"},
	{1, "write any file, e.g. /etc/passwd or a binary root runs"},
	{2, "read any file (/etc/shadow) and open files by handle (the \"shocker\" container escape)"},
	{3, "chmod any file, e.g. make a root-owned helper setuid"},
	{4, "keep setuid and setgid bits on files it changes and set setgid for any group"},
	{6, "setgid and setgroups to any group, gid 0 included"},
	{7, "setuid to any uid, 0 included"},
	{8, "add any capability of the bounding set to its inheritable set and change securebits"},
	{9, "remove the immutable and append-only flags root set"},
	{15, "bypass permission checks on root's System V IPC objects"},
	{16, "load kernel modules"},
	{17, "use raw I/O ports and /dev/mem"},
	{18, "chroot into a directory of its own with a hard link to a setuid binary"},
	{19, "ptrace root's processes"},
	{21, "mount, and most other administration: root in all but name"},
	{22, "kexec_load a kernel of its own"},
	{27, "create device nodes, e.g. for the disk holding root's files"},
	{31, "set file capabilities, e.g. cap_setuid on a copy of a shell"},
	{32, "override the Mandatory Access Control policy confining the container"},
	{33, "change the Mandatory Access Control policy"},
	{38, "read any process's memory through perf events"},
	{39, "load BPF programs that read and write kernel and user memory"},
	{40, "write ns_last_pid and open any process's map_files"},
}

// Unsafe returns the capabilities of mask that lead back to root, with why
// for the first of them.
func Unsafe(mask uint64) (bad uint64, why string) {
	for _, u := range toRoot {
		if mask&(1<<u.cap) != 0 {
			if bad == 0 {
				why = u.why
			}
			bad |= 1 << u.cap
		}
	}
	return bad, why
}

// Parse reads a comma-separated list of capability names, as in
// capabilities(7), with or without the CAP_ prefix, in any case.
func Parse(list string) (uint64, error) {
	var mask uint64
	for more := true; more; {
		name := list
		if i := strings.IndexByte(list, ','); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			more = false
		}
		i := indexOf(strings.TrimPrefix(Upper(strings.TrimSpace(name)), "CAP_"))
		if i < 0 {
			return 0, errors.New("unknown capability " + errs.Quote(name) + " (names as in capabilities(7), e.g. CAP_NET_BIND_SERVICE or net_bind_service)")
		}
		mask |= 1 << i
	}
	return mask, nil
}

// indexOf returns the number of the capability called name (without
// CAP_), or -1.
func indexOf(name string) int {
	for i, rest := 0, names; rest != ""; i++ {
		j := strings.IndexByte(rest, ' ')
		if rest[:j] == name {
			return i
		}
		rest = rest[j+1:]
	}
	return -1
}

// Names lists the capabilities in mask, in capabilities(7) spelling.
func Names(mask uint64) []string {
	var out []string
	rest := names
	for i := range 64 {
		name := ""
		if j := strings.IndexByte(rest, ' '); j >= 0 {
			name, rest = rest[:j], rest[j+1:]
		}
		if mask&(1<<i) == 0 {
			continue
		}
		if name == "" {
			name = strconv.Itoa(i)
		}
		out = append(out, "CAP_"+name)
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
