package account

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixture writes passwd and group files and returns a DB over them.
func fixture(t testing.TB, passwd, group string) DB {
	t.Helper()
	dir := t.TempDir()
	db := DB{Passwd: filepath.Join(dir, "passwd"), Group: filepath.Join(dir, "group")}
	if err := os.WriteFile(db.Passwd, []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db.Group, []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	return db
}

const passwd = `# a comment shaped like a user:
#evil:x:0:0::/root:/bin/sh

root:x:0:0:root:/root:/bin/bash
   
app:x:1000:1000:App:/home/app:/bin/sh
dup:x:1000:1000:Dup:/home/dup:/bin/sh
bad1:x:notanumber:1000::/home/bad1:/bin/sh
bad2:x::1000::/home/bad2:/bin/sh
bad3
bad4:x:1004:
bad5:x:4294967295:0::/:/bin/sh
both:x:zzz:0::/:/bin/sh
both:x:1005:1005::/home/both:/bin/sh
nohome:x:1006:1006:::/bin/sh
high:x:3000000000:3000000000::/high:/bin/sh
last:x:1007:1007::/last:/bin/sh`

const group = `#wheel:x:0:app
root:x:0:
users:x:100:games,app
staff:x:50:app
dupgid:x:100:app
broken:x:oops:app
broken2:x:60
dev:x:70:nohome,app
high:x:3000000000:high
last:x:80:last`

func TestUserByName(t *testing.T) {
	db := fixture(t, passwd, group)
	for _, tc := range []struct {
		name string
		want User
	}{
		{"root", User{"root", 0, 0, "/root", "/bin/bash"}},
		{"app", User{"app", 1000, 1000, "/home/app", "/bin/sh"}},
		{"dup", User{"dup", 1000, 1000, "/home/dup", "/bin/sh"}},
		{"both", User{"both", 1005, 1005, "/home/both", "/bin/sh"}}, // the malformed line before it is skipped
		{"nohome", User{"nohome", 1006, 1006, "", "/bin/sh"}},
		{"high", User{"high", 3000000000, 3000000000, "/high", "/bin/sh"}},
		{"last", User{"last", 1007, 1007, "/last", "/bin/sh"}}, // no final newline
	} {
		got, err := db.UserByName(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("UserByName(%q) = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestUserByNameMalformed(t *testing.T) {
	db := fixture(t, passwd, group)
	for name, want := range map[string]string{
		"bad1":  `no matching entries in passwd file (` + db.Passwd + `:8 has that name but is malformed and ignored: uid "notanumber" is not a decimal number in 0-4294967294)`,
		"bad2":  `no matching entries in passwd file (` + db.Passwd + `:9 has that name but is malformed and ignored: uid "" is not a decimal number in 0-4294967294)`,
		"bad3":  `no matching entries in passwd file (` + db.Passwd + `:10 has that name but is malformed and ignored: 1 field instead of 7)`,
		"bad4":  `no matching entries in passwd file (` + db.Passwd + `:11 has that name but is malformed and ignored: 4 fields instead of 7)`,
		"bad5":  `no matching entries in passwd file (` + db.Passwd + `:12 has that name but is malformed and ignored: uid "4294967295" is not a decimal number in 0-4294967294)`,
		"#evil": `no matching entries in passwd file`,
		"evil":  `no matching entries in passwd file`,
		"ROOT":  `no matching entries in passwd file`,
		"":      `no matching entries in passwd file`,
	} {
		u, err := db.UserByName(name)
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoPasswdEntries) {
			t.Errorf("UserByName(%q) = %+v, %v; want error %q", name, u, err, want)
		}
	}
}

func TestUserByID(t *testing.T) {
	db := fixture(t, passwd, group)
	for _, tc := range []struct {
		uid   uint32
		want  string
		found bool
	}{
		{0, "root", true},
		{1000, "app", true}, // first of two
		{1005, "both", true},
		{3000000000, "high", true},
		{1004, "", false}, // only on a malformed line
		{4242, "", false},
	} {
		u, found, err := db.UserByID(tc.uid)
		if err != nil || found != tc.found || u.Name != tc.want {
			t.Errorf("UserByID(%d) = %+v, %v, %v; want %q, %v", tc.uid, u, found, err, tc.want, tc.found)
		}
	}
}

func TestGroups(t *testing.T) {
	db := fixture(t, passwd, group)
	g, err := db.GroupByName("staff")
	if err != nil || g.GID != 50 {
		t.Errorf("GroupByName(staff) = %+v, %v", g, err)
	}
	_, err = db.GroupByName("broken")
	if want := `no matching entries in group file (` + db.Group + `:6 has that name but is malformed and ignored: gid "oops" is not a decimal number in 0-4294967294)`; err == nil || err.Error() != want {
		t.Errorf("GroupByName(broken) error %v; want %q", err, want)
	}
	if _, err = db.GroupByName("wheel"); !errors.Is(err, ErrNoGroupEntries) {
		t.Errorf("GroupByName(wheel) error %v; want ErrNoGroupEntries", err)
	}
	for user, want := range map[string][]uint32{
		"app":    {100, 50, 70}, // file order, gid 100 once, not the broken lines
		"games":  {100},
		"nohome": {70},
		"high":   {3000000000},
		"last":   {80},
		"root":   nil,
		"nobody": nil,
		"":       nil,
	} {
		got, err := db.GroupsOf(user)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("GroupsOf(%q) = %v, %v; want %v", user, got, err, want)
		}
	}
}

func TestMissingFilesReadAsEmpty(t *testing.T) {
	dir := t.TempDir()
	db := DB{Passwd: filepath.Join(dir, "nope"), Group: filepath.Join(dir, "nope")}
	if _, err := db.UserByName("root"); !errors.Is(err, ErrNoPasswdEntries) {
		t.Errorf("UserByName: %v", err)
	}
	if _, found, err := db.UserByID(0); found || err != nil {
		t.Errorf("UserByID: %v %v", found, err)
	}
	if gids, err := db.GroupsOf("root"); gids != nil || err != nil {
		t.Errorf("GroupsOf: %v %v", gids, err)
	}
}

func TestDirectoryIsNotEmpty(t *testing.T) {
	// A directory opens but cannot be read: that must be an error, not an
	// empty file that silently changes who the user is.
	db := DB{Passwd: t.TempDir(), Group: t.TempDir()}
	if _, err := db.UserByName("root"); err == nil || errors.Is(err, ErrNoPasswdEntries) || err.Error() != db.Passwd+" is not a regular file (a directory)" {
		t.Errorf("UserByName on a directory: %v", err)
	}
	if _, err := db.GroupsOf("root"); err == nil || err.Error() != db.Group+" is not a regular file (a directory)" {
		t.Errorf("GroupsOf on a directory: %v", err)
	}
}

func TestLongLines(t *testing.T) {
	// A member list of most of MaxLine, far beyond the read buffer, with
	// the user last; and a passwd line longer than the buffer before the
	// match.
	var members strings.Builder
	for i := range 75000 {
		members.WriteString("member" + strconv.Itoa(i) + ",")
	}
	members.WriteString("app")
	grp := "huge:x:500:" + members.String() + "\nsmall:x:501:app\n"
	pw := "long:x:1:1:" + strings.Repeat("g", 200000) + ":/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
	db := fixture(t, pw, grp)
	if got, err := db.GroupsOf("app"); err != nil || !slices.Equal(got, []uint32{500, 501}) {
		t.Errorf("GroupsOf(app) = %v, %v", got, err)
	}
	if got, err := db.GroupsOf("member74999"); err != nil || !slices.Equal(got, []uint32{500}) {
		t.Errorf("GroupsOf(member74999) = %v, %v", got, err)
	}
	if u, err := db.UserByName("app"); err != nil || u.UID != 1000 {
		t.Errorf("UserByName(app) = %+v, %v", u, err)
	}
	if u, err := db.UserByName("long"); err != nil || len(u.Name) != 4 || u.UID != 1 {
		t.Errorf("UserByName(long) = %+v, %v", u.UID, err)
	}
}

// refLookup is a naive reference for UserByName: split the whole file. It
// reports whether a line too long to read comes before any match.
func refLookup(content, name string) (u User, found, tooLong bool) {
	for _, line := range strings.Split(content, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if len(line) > MaxLine {
			return User{}, false, true
		}
		if strings.TrimLeft(line, " \t") == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if u, ok := refUser(line); ok && u.Name == name {
			return u, true, false
		}
	}
	return User{}, false, false
}

// checkUserByName compares UserByName in content with refLookup.
func checkUserByName(t *testing.T, path, content, name string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := DB{Passwd: path}.UserByName(name)
	want, ok, tooLong := refLookup(content, name)
	switch {
	case tooLong:
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("UserByName(%q) in %.200q = %+v, %v; reference says a line is too long", name, content, got, err)
		}
	case ok != (err == nil) || got != want:
		t.Fatalf("UserByName(%q) in %.200q = %+v, %v; reference says %+v, %v", name, content, got, err, want, ok)
	case err != nil && !errors.Is(err, ErrNoPasswdEntries):
		t.Fatalf("unexpected error kind: %v", err)
	}
}

func FuzzUserByName(f *testing.F) {
	f.Add(passwd, "app")
	f.Add(passwd, "bad1")
	f.Add(passwd, "both")
	f.Add("app\napp:x:0:0:::\n", "app")
	f.Add("#app:x:0:0:::\napp:x:5:5:::", "app")
	f.Add("app:x::::::\n", "app")
	f.Add("app:x:1:1::/h:/bin/sh\r\n", "app")
	f.Add("a:x:1:1:::\r\r\napp:x:2:2::/h:/bin/sh\r", "app")
	f.Add("\r\n#app:x:0:0:::\r\n \r\napp:x:3:3:::\r", "app")
	f.Add("app:x:1:1::/h:/bin/sh\r\rapp:x:2:2:::\r", "app")
	// Lines over MaxLine are TestUserByNameLongLines' (as seeds they slow
	// fuzzing tenfold); FuzzLines reaches its limit with small ones.
	path := filepath.Join(f.TempDir(), "passwd")
	f.Fuzz(func(t *testing.T, content, name string) {
		checkUserByName(t, path, content, name)
	})
}

func TestUserByNameLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	x := strings.Repeat("x", MaxLine)
	for _, content := range []string{
		x + "\r\napp:x:4:4:::\n",
		x + "x\napp:x:4:4:::\n",
		x + "\r\r\napp:x:4:4:::\n",
		"app:x:4:4:::\n" + x + "x",
		"#" + x + "\r\napp:x:4:4:::\r\n",
		"app:x:4:4:" + x[:MaxLine-len("app:x:4:4:::")] + "::\r",
		"app:x:4:4:" + x[:MaxLine-len("app:x:4:4:::")] + ":::\r",
	} {
		checkUserByName(t, path, content, "app")
	}
}

func BenchmarkUserByNameLast(b *testing.B) {
	var sb strings.Builder
	for i := range 200000 {
		sb.WriteString("user" + strconv.Itoa(i) + ":x:" + strconv.Itoa(10000+i) + ":100::/home/u:/bin/sh\n")
	}
	db := fixture(b, sb.String(), "")
	for b.Loop() {
		if _, err := db.UserByName("user199999"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGroupsOf50k(b *testing.B) {
	var sb strings.Builder
	for i := range 50000 {
		sb.WriteString("group" + strconv.Itoa(i) + ":x:" + strconv.Itoa(10000+i) + ":alice,app,bob\n")
	}
	db := fixture(b, "", sb.String())
	for b.Loop() {
		if gids, err := db.GroupsOf("app"); err != nil || len(gids) != 50000 {
			b.Fatal(len(gids), err)
		}
	}
}
