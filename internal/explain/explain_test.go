package explain

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"gosu/internal/drop"
	"gosu/internal/environ"
	"gosu/internal/plan"
	"gosu/internal/spec"
	"gosu/internal/testenv"
	"gosu/internal/useradd"
)

// The JSON is written by hand; encoding/json, fine in a test, checks it.
func TestJSONIsJSON(t *testing.T) {
	weird := "q\"b\\s\x00\x1f\n\t\u2028é\xff"
	p := &plan.Plan{
		Command:  []string{"sh", "-c", weird},
		Identity: spec.Identity{UID: 4294967294, GID: 7, Name: weird},
		Target:   drop.Target{UID: 4294967294, GID: 7, Groups: []uint32{1, 4294967294}, KeepCaps: 1 << 10, LimitBounding: true, NoNewPrivs: true, ParentDeathSignal: syscall.SIGTERM},
		Env:      []environ.Change{{Name: "HOME", Value: weird}},
		TTY:      "pty",
		CloseFDs: true,
		KeepFDs:  []int{3, 7},
		Init:     true, InitSuccess: []int{143}, InitGrace: 1500 * time.Millisecond,
		Notes: []string{weird},
		AddUser: &useradd.Plan{Name: "u", MakeHome: true, Home: weird, Changes: useradd.Changes{
			Passwd: &useradd.Change{Line: weird}, Group: &useradd.Change{Line: "g:x:7:"}, Shadow: &useradd.Change{Line: "u:!:1:0:99999:7:::"}}},
		Chown: []plan.Chown{{Path: weird, FromUID: -1, FromGID: 7}, {Path: "/b", FromUID: 0, FromGID: -1}},
		RemapUser: &useradd.Plan{Name: weird, OldUID: 911, OldGID: 4294967294, Changes: useradd.Changes{
			Passwd: &useradd.Change{Line: "abc:x:1000:1000::" + weird + ":/bin/sh", Old: "abc:x:911:911::" + weird + ":/bin/sh"}}},
	}
	var got struct {
		Command     []string          `json:"command"`
		UID         uint32            `json:"uid"`
		User        *string           `json:"user"`
		Groups      []uint32          `json:"groups"`
		Env         map[string]string `json:"env"`
		AmbientCaps []string          `json:"ambient_caps"`
		Bounding    []string          `json:"bounding_set"`
		NoNewPrivs  bool              `json:"no_new_privs"`
		TTY         string            `json:"tty"`
		KeepFDs     []int             `json:"keep_fds"`
		Pdeathsig   *string           `json:"pdeathsig"`
		Init        struct {
			Success []int   `json:"success"`
			Grace   float64 `json:"grace_seconds"`
		} `json:"init"`
		Notes   []string `json:"notes"`
		AddUser struct {
			Passwd *string `json:"passwd"`
			Group  *string `json:"group"`
			Shadow bool    `json:"shadow"`
			Home   *string `json:"home"`
		} `json:"add_user"`
		Chown []struct {
			Path    string `json:"path"`
			FromUID int64  `json:"from_uid"`
			FromGID int64  `json:"from_gid"`
		} `json:"chown"`
		RemapUser struct {
			Name   string `json:"name"`
			OldUID uint32 `json:"old_uid"`
			OldGID uint32 `json:"old_gid"`
			Passwd *struct {
				Old *string `json:"old"`
				New string  `json:"new"`
			} `json:"passwd"`
			Group *struct{} `json:"group"`
		} `json:"remap_user"`
	}
	out := JSON(p)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	valid := strings.ToValidUTF8(weird, "\uFFFD")
	if got.Command[2] != valid || *got.User != valid || got.Env["HOME"] != valid || got.UID != 4294967294 ||
		got.Groups[1] != 4294967294 || got.AmbientCaps[0] != "CAP_NET_BIND_SERVICE" || got.Bounding[0] != "CAP_NET_BIND_SERVICE" ||
		!got.NoNewPrivs || got.TTY != "pty" || got.KeepFDs[1] != 7 || *got.Pdeathsig != "SIGTERM" ||
		got.Init.Success[0] != 143 || got.Init.Grace != 1.5 || got.Notes[0] != valid ||
		*got.AddUser.Passwd != valid || *got.AddUser.Group != "g:x:7:" || !got.AddUser.Shadow || *got.AddUser.Home != valid ||
		len(got.Chown) != 2 || got.Chown[0].Path != valid || got.Chown[0].FromUID != -1 || got.Chown[0].FromGID != 7 || got.Chown[1].FromUID != 0 ||
		got.RemapUser.Name != valid || got.RemapUser.OldUID != 911 || got.RemapUser.OldGID != 4294967294 ||
		*got.RemapUser.Passwd.Old != "abc:x:911:911::"+valid+":/bin/sh" || got.RemapUser.Passwd.New != "abc:x:1000:1000::"+valid+":/bin/sh" ||
		got.RemapUser.Group != nil {
		t.Errorf("JSON(%+v) reads back as %+v", p, got)
	}
}

// str is one JSON string as the writer writes it.
func str(s string) string {
	var w jsonWriter
	w.string(s)
	return string(w.b)
}

// TestLayoutLongKey: a key as wide as the value column, or wider, still
// gets a space before its value.
func TestLayoutLongKey(t *testing.T) {
	got := layout([][2]string{{"k:", "v"}, {"a-very-long-key:", "w"}, {"", "x"}})
	if want := "k:             v\na-very-long-key: w\n               x\n"; got != want {
		t.Errorf("layout = %q, want %q", got, want)
	}
}

func FuzzStr(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x7f\u2028", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal([]byte(str(s)), &back); err != nil {
			t.Fatalf("str(%q) = %s: %v", s, str(s), err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); back != want && !strings.ContainsRune(s, 0xFFFD) {
			t.Fatalf("str(%q) reads back as %q, want %q", s, back, want)
		}
	})
}

// TestShellWords: what --explain prints as the command, pasted into a
// shell, gives back exactly the words, and runs nothing. Words with control
// characters use $'...' quoting, which POSIX.1-2024 has and Debian's dash
// 0.5.12 does not yet: bash reads them here. No output line holds a raw
// control character.
func TestShellWords(t *testing.T) {
	words := []string{"a$(touch /nonexistent/x)", "it's", "", "`id`", "x y", "\n", "é", "\\", "'", "plain", "-c", "a=b", "!x", "~",
		"x\nerror: forged line", "\x1b]0;TITLE\a", "it's\t\\n", "\xff\xfe", "dé\x7f"}
	line := strings.Join(shellWords(words), " ")
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("raw control character %q in %q", c, line)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		testenv.Need(t, false, "needs bash (apt-get install bash)")
	}
	out, err := exec.Command(bash, "--norc", "--noprofile", "-c", `for w in `+line+`; do printf '%s\0' "$w"; done`).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(words, "|") {
		t.Errorf("bash read %q back as %q", line, got)
	}
	// Words without control characters stay in single quotes, which every
	// POSIX shell reads.
	plainWords := slices.DeleteFunc(slices.Clone(words), func(w string) bool {
		return strings.ContainsAny(w, "\n\t\x1b\x7f") || !utf8.ValidString(w)
	})
	plain := strings.Join(shellWords(plainWords), " ")
	out, err = exec.Command("sh", "-c", `for w in `+plain+`; do printf '%s\0' "$w"; done`).Output()
	if err != nil {
		t.Fatalf("sh: %v", err)
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); strings.Join(got, "|") != strings.Join(plainWords, "|") {
		t.Errorf("sh read %q back as %q", plain, got)
	}
}

// TestSeconds: --init-grace in seconds, from whole milliseconds, the way
// strconv.FormatFloat(s, 'f', -1, 64) wrote it before.
func TestSeconds(t *testing.T) {
	for _, ms := range []int64{0, 1, 10, 100, 120, 999, 1000, 1001, 1050, 2500, 10000, 3599999, 3600000} {
		d := time.Duration(ms) * time.Millisecond
		want := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		if got := seconds(d); got != want {
			t.Errorf("seconds(%d ms) = %q, want %q", ms, got, want)
		}
	}
}
