package caps

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gosu/internal/testenv"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]uint64{
		"net_bind_service":                   1 << 10,
		"CAP_NET_BIND_SERVICE":               1 << 10,
		"Cap_Net_Bind_Service,chown":         1<<10 | 1,
		"chown,chown":                        1,
		"checkpoint_restore":                 1 << 40,
		"sys_admin, kill":                    1<<21 | 1<<5,
		"CAP_SETFCAP,cap_audit_read,perfmon": 1<<31 | 1<<37 | 1<<38,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "bogus", "chown,", "cap_", "CAP_CHOWNX", "net bind service", "41"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %x, want an error", in, got)
		}
	}
}

func TestNames(t *testing.T) {
	if got := Names(1<<10 | 1 | 1<<40 | 1<<45); !slices.Equal(got, []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_CHECKPOINT_RESTORE", "CAP_45"}) {
		t.Errorf("Names = %q", got)
	}
	if n := strings.Count(names, " "); n != known || !strings.HasSuffix(names, " ") || strings.Contains(names, "  ") {
		t.Errorf("names has %d entries, want %d, each followed by one space", n, known)
	}
	for i := range known {
		if m, err := Parse(Names(1 << i)[0]); err != nil || m != 1<<i {
			t.Errorf("capability %d does not round-trip: %x, %v", i, m, err)
		}
	}
	if Setuid != 1<<indexOf("SETUID") {
		t.Errorf("Setuid is not CAP_SETUID's bit")
	}
}

func TestLast(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		testenv.Need(t, false, "needs /proc mounted, to compare with /proc/sys/kernel/cap_last_cap")
	}
	if want, _ := strconv.Atoi(strings.TrimSpace(string(b))); last() != want {
		t.Errorf("last() = %d, cap_last_cap says %d", last(), want)
	}
}

// TestUnsafe pins the refused list: every capability the issue of
// capabilities that lead back to root names, and none of the harmless ones.
func TestUnsafe(t *testing.T) {
	refused, err := Parse("chown,dac_override,dac_read_search,fowner,fsetid,setgid,setuid,setpcap,linux_immutable,ipc_owner," +
		"sys_module,sys_rawio,sys_chroot,sys_ptrace,sys_admin,sys_boot,mknod,setfcap,mac_override,mac_admin,perfmon,bpf,checkpoint_restore")
	if err != nil {
		t.Fatal(err)
	}
	all := uint64(1)<<known - 1
	if bad, why := Unsafe(all); bad != refused || why == "" {
		t.Errorf("Unsafe(all) = %v, want %v", Names(bad), Names(refused))
	}
	safe, _ := Parse("kill,net_bind_service,net_broadcast,net_admin,net_raw,ipc_lock,sys_pacct,sys_nice,sys_resource,sys_time," +
		"sys_tty_config,lease,audit_write,audit_control,syslog,wake_alarm,block_suspend,audit_read")
	if bad, _ := Unsafe(safe); bad != 0 {
		t.Errorf("Unsafe(%v) = %v, want none", Names(safe), Names(bad))
	}
	if safe|refused != all {
		t.Errorf("unclassified: %v", Names(all&^(safe|refused)))
	}
	if _, why := Unsafe(1 << 3); !strings.Contains(why, "setuid") {
		t.Errorf("CAP_FOWNER's reason %q does not say how it leads to root", why)
	}
}

// TestUnsafeDocumented: docs/capabilities.md gives every refused capability
// with the reason the error message gives.
func TestUnsafeDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/capabilities.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range toRoot {
		row := "| `" + Names(1 << u.cap)[0] + "` | " + strings.ReplaceAll(u.why, `\"`, `"`) + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/capabilities.md lacks the row %q", row)
		}
	}
}
