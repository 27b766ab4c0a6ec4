package account

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		err  error
	}{
		{"0", 0, nil},
		{"000", 0, nil},
		{"0042", 42, nil},
		{"65534", 65534, nil},
		{"2147483647", 2147483647, nil},
		{"2147483648", 2147483648, nil},
		{"4294967294", 4294967294, nil},
		{"4294967295", 0, ErrRange},
		{"4294967296", 0, ErrRange}, // su-exec 0.3 wraps this to root
		{"18446744073709551616", 0, ErrRange},
		{"99999999999999999999999999", 0, ErrRange},
		{"-1", 0, ErrRange},
		{"+5", 0, ErrRange},
		{"-0", 0, ErrRange},
		{"", 0, ErrNotDecimal},
		{"+", 0, ErrNotDecimal},
		{"-", 0, ErrNotDecimal},
		{"0day", 0, ErrNotDecimal},
		{"1e3", 0, ErrNotDecimal},
		{"0x10", 0, ErrNotDecimal},
		{" 1", 0, ErrNotDecimal},
		{"1 ", 0, ErrNotDecimal},
		{"root", 0, ErrNotDecimal},
		{"-root", 0, ErrNotDecimal},
		{"１", 0, ErrNotDecimal}, // fullwidth digit
	} {
		got, err := ParseID(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("ParseID(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseUser(t *testing.T) {
	ok := map[string]User{
		"root:x:0:0:root:/root:/bin/bash":       {"root", 0, 0, "/root", "/bin/bash"},
		"app:x:1000:1000::/home/app:":           {"app", 1000, 1000, "/home/app", ""},
		"empty:x:1001:1001:::":                  {"empty", 1001, 1001, "", ""},
		"big:x:4294967294:3000000000::/big:/sh": {"big", 4294967294, 3000000000, "/big", "/sh"},
		"4242:x:4243:4243::/n:/bin/sh":          {"4242", 4243, 4243, "/n", "/bin/sh"},
		"a:x:007:008:::":                        {"a", 7, 8, "", ""},
	}
	for line, want := range ok {
		got, err := ParseUser([]byte(line))
		if err != nil || got != want {
			t.Errorf("ParseUser(%q) = %+v, %v; want %+v", line, got, err, want)
		}
	}
	// Each of these made upstream's parser return uid 0 or a user from a
	// comment; none may parse here.
	bad := map[string]string{
		"app:x:notanumber:1000::/home/app:/bin/sh": `uid "notanumber" is not a decimal number in 0-4294967294`,
		"app:x::1000::/home/app:/bin/sh":           `uid "" is not a decimal number in 0-4294967294`,
		"app:x:1000::::":                           `gid "" is not a decimal number in 0-4294967294`,
		"app:x:1000:-1::/:/bin/sh":                 `gid "-1" is not a decimal number in 0-4294967294`,
		"app:x:4294967295:1::/:/bin/sh":            `uid "4294967295" is not a decimal number in 0-4294967294`,
		"app:x:1000:1000":                          "4 fields instead of 7",
		"app":                                      "1 field instead of 7",
		"app:x:1:1:g:/h:/s:extra":                  "8 fields instead of 7",
		":x:1:1:g:/h:/s":                           "empty user name",
		" app:x:0x1:1:g:/h:/s":                     `uid "0x1" is not a decimal number in 0-4294967294`,
	}
	for line, want := range bad {
		got, err := ParseUser([]byte(line))
		if err == nil || err.Error() != want {
			t.Errorf("ParseUser(%q) = %+v, %v; want error %q", line, got, err, want)
		}
	}
}

func TestParseGroup(t *testing.T) {
	ok := map[string]Group{
		"root:x:0:":              {"root", 0, nil},
		"users:x:100:games,app":  {"users", 100, []string{"games", "app"}},
		"big:x:4294967294:a":     {"big", 4294967294, []string{"a"}},
		"odd:*:7:a,,b":           {"odd", 7, []string{"a", "", "b"}},
		"spaced:x:8: a , b ":     {"spaced", 8, []string{" a ", " b "}},
		"digits:x:0009:4242,app": {"digits", 9, []string{"4242", "app"}},
	}
	for line, want := range ok {
		got, err := ParseGroup([]byte(line))
		if err != nil || got.Name != want.Name || got.GID != want.GID || !slices.Equal(got.Members, want.Members) {
			t.Errorf("ParseGroup(%q) = %+v, %v; want %+v", line, got, err, want)
		}
	}
	bad := map[string]string{
		"grp:x::app":        `gid "" is not a decimal number in 0-4294967294`,
		"grp:x:abc:app":     `gid "abc" is not a decimal number in 0-4294967294`,
		"grp:x:1":           "3 fields instead of 4",
		"grp":               "1 field instead of 4",
		"grp:x:1:a:b":       "5 fields instead of 4",
		":x:1:a":            "empty group name",
		"grp:x:+1:app":      `gid "+1" is not a decimal number in 0-4294967294`,
		"grp:x:1e9:app":     `gid "1e9" is not a decimal number in 0-4294967294`,
		"grp:x:9999999999:": `gid "9999999999" is not a decimal number in 0-4294967294`,
	}
	for line, want := range bad {
		got, err := ParseGroup([]byte(line))
		if err == nil || err.Error() != want {
			t.Errorf("ParseGroup(%q) = %+v, %v; want error %q", line, got, err, want)
		}
	}
}

// refID is a deliberately naive reference for ParseID.
func refID(s string) (uint32, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > MaxID {
		return 0, false
	}
	return uint32(n), true
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0", "4294967294", "4294967295", "-1", "+1", "00", "1a", "", "18446744073709551617"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseID(s)
		want, ok := refID(s)
		if ok != (err == nil) || got != want {
			t.Fatalf("ParseID(%q) = %d, %v; reference says %d, %v", s, got, err, want, ok)
		}
	})
}

// refUser is a deliberately naive reference for ParseUser.
func refUser(line string) (User, bool) {
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] == "" {
		return User{}, false
	}
	uid, ok1 := refID(f[2])
	gid, ok2 := refID(f[3])
	if !ok1 || !ok2 {
		return User{}, false
	}
	return User{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]}, true
}

func FuzzParseUser(f *testing.F) {
	for _, s := range []string{
		"root:x:0:0:root:/root:/bin/bash",
		"app:x:notanumber:1000::/home/app:/bin/sh",
		"app:x::1000::/home/app:/bin/sh",
		"app",
		"#app:x:0:0::/root:/bin/sh",
		"big:x:4294967294:4294967294:::",
		"over:x:4294967295:1:::",
		"a:b:c:d:e:f:g:h",
		"::::::",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := ParseUser(line)
		want, ok := refUser(string(line))
		if ok != (err == nil) || got != want {
			t.Fatalf("ParseUser(%q) = %+v, %v; reference says %+v, %v", line, got, err, want, ok)
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	for _, s := range []string{
		"root:x:0:",
		"users:x:100:games,nobody",
		"grp:x::app",
		"grp",
		"g:x:1:a,,b,",
		"g:x:1:a:b",
		":::",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := ParseGroup(line)
		fields := strings.Split(string(line), ":")
		ok := len(fields) == 4 && fields[0] != ""
		var gid uint32
		if ok {
			gid, ok = refID(fields[2])
		}
		if ok != (err == nil) {
			t.Fatalf("ParseGroup(%q) error %v; reference says ok=%v", line, err, ok)
		}
		if !ok {
			return
		}
		var members []string
		if fields[3] != "" {
			members = strings.Split(fields[3], ",")
		}
		if got.Name != fields[0] || got.GID != gid || !slices.Equal(got.Members, members) {
			t.Fatalf("ParseGroup(%q) = %+v; want %s %d %q", line, got, fields[0], gid, members)
		}
		for _, m := range members {
			var f [groupFields][]byte
			if _, err := parse(line, f[:]); err != nil || !hasMember(f[3], m) {
				t.Fatalf("hasMember(%q) false for %q", m, line)
			}
		}
	})
}

// FuzzWithIDs: replacing the ids of a well-formed line changes them and
// nothing else; a malformed line is refused.
func FuzzWithIDs(f *testing.F) {
	f.Add("abc:x:911:911::/config:/bin/false\r", uint32(1000), uint32(1000))
	f.Add("abc:x:911:911:a,b:/c:", uint32(0), uint32(4294967294))
	f.Add("abc:x:0911:911::/c:/bin/sh", uint32(1), uint32(2))
	f.Add("abc:x:oops:911::/c:/bin/sh", uint32(1), uint32(2))
	f.Add("abc:x:911:app,bob", uint32(1), uint32(2))
	f.Add("abc:x:911:app:bob", uint32(1), uint32(2))
	f.Fuzz(func(t *testing.T, line string, uid, gid uint32) {
		uid, gid = min(uid, MaxID), min(gid, MaxID)
		if u, err := ParseUser([]byte(line)); err != nil {
			if _, err2 := WithUserIDs([]byte(line), uid, gid); err2 == nil {
				t.Fatalf("WithUserIDs(%q) accepted a malformed line", line)
			}
		} else {
			out, err := WithUserIDs([]byte(line), uid, gid)
			v, err2 := ParseUser(out)
			u.UID, u.GID = uid, gid
			if err != nil || err2 != nil || v != u || strings.Count(string(out), ":") != 6 {
				t.Fatalf("WithUserIDs(%q, %d, %d) = %q (%v, %v): %+v, want %+v", line, uid, gid, out, err, err2, v, u)
			}
			if u2, g2, err := UserIDs(out); err != nil || u2 != uid || g2 != gid {
				t.Fatalf("UserIDs(%q) = %d, %d, %v", out, u2, g2, err)
			}
			f := strings.Split(line, ":")
			g := strings.Split(string(out), ":")
			if f[0] != g[0] || f[1] != g[1] || f[4] != g[4] || f[5] != g[5] || f[6] != g[6] {
				t.Fatalf("WithUserIDs(%q) = %q changed another field", line, out)
			}
		}
		if g, err := ParseGroup([]byte(line)); err != nil {
			if _, err2 := WithGroupID([]byte(line), gid); err2 == nil {
				t.Fatalf("WithGroupID(%q) accepted a malformed line", line)
			}
		} else {
			out, err := WithGroupID([]byte(line), gid)
			h, err2 := ParseGroup(out)
			if err != nil || err2 != nil || h.GID != gid || h.Name != g.Name || !slices.Equal(h.Members, g.Members) {
				t.Fatalf("WithGroupID(%q, %d) = %q (%v, %v)", line, gid, out, err, err2)
			}
			if gid2, err := GroupID(out); err != nil || gid2 != gid {
				t.Fatalf("GroupID(%q) = %d, %v", out, gid2, err)
			}
		}
	})
}
