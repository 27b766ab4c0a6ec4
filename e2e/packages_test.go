package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// pkgVersions runs scripts/pkgversion.sh: format -> the full version dpkg,
// rpm or apk shows.
func pkgVersions(t *testing.T, modversion string) map[string]string {
	t.Helper()
	repo := repoRoot(t)
	out, err := exec.Command("bash", repo+"/scripts/pkgversion.sh", modversion).Output()
	if err != nil {
		t.Fatalf("scripts/pkgversion.sh %s: %v", modversion, err)
	}
	v := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 5 {
			v[f[0]] = f[4]
		}
	}
	if len(v) != 3 {
		t.Fatalf("scripts/pkgversion.sh %s printed %q", modversion, out)
	}
	return v
}

// TestPackageVersions checks the version scheme of docs/release.md with the
// package managers' own comparisons: dpkg --compare-versions, rpm's
// rpm.vercmp, and apk-tools' (as scripts/apkvercmp ports it: apk-tools is not
// packaged for Debian). Every version a release can have, from an untagged
// commit to a later release, sorts in the order Go's semantic versions do, and
// after every version of upstream gosu's packages: Debian's 1.14-1+b10,
// Ubuntu's 1.17, Alpine's 1.19-r6, upstream's 1.19, and (for deb and rpm,
// thanks to the epoch) any later one.
func TestPackageVersions(t *testing.T) {
	repo := repoRoot(t)
	dpkg := needTool(t, "dpkg", "dpkg")
	rpm := needTool(t, "rpm", "rpm")
	dependOnFiles(t, repo, "scripts/pkgversion.sh", "scripts/apkvercmp/main.go", "scripts/apkvercmp/go.mod", "scripts/apkvercmp/go.sum")
	apkvercmp := t.TempDir() + "/apkvercmp"
	build := exec.Command("go", "build", "-o", apkvercmp, ".")
	build.Dir = repo + "/scripts/apkvercmp"
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building scripts/apkvercmp: %v\n%s", err, out)
	}

	// In Go's order (semantic versioning), oldest first.
	chain := []string{
		"v0.0.0-20261203041538-9e37a922ac25", // no tag yet
		"v1.20.0-alpha.1",
		"v1.20.0-beta.2",
		"v1.20.0-rc.1",
		"v1.20.0-rc.1.0.20261203000000-9e37a922ac25", // commits after rc.1
		"v1.20.0-rc.1.0.20261203235959-1234567890ab",
		"v1.20.0-rc.2",
		"v1.20.0",
		"v1.20.1-0.20261204000001-9e37a922ac25", // commits after 1.20.0
		"v1.20.1-0.20261204120000-9e37a922ac25",
		"v1.20.1",
		"v1.21.0",
		"v2.0.0",
	}
	upstream := map[string][]string{
		// Debian 12, Ubuntu 24.04, upstream's latest, and a later one.
		"deb": {"1.14-1+b10", "1.17-1ubuntu0.24.04.3", "1.19-1", "1.99-1"},
		"rpm": {"1.14-1", "1.19-1", "1.99-1"},
		// Alpine 3.22 and 3.24 community.
		"apk": {"1.14-r0", "1.17-r13", "1.19-r6"},
	}
	var versions []map[string]string
	for _, v := range chain {
		versions = append(versions, pkgVersions(t, v))
	}
	var rpmPairs [][2]string // lower, higher
	for i, v := range versions {
		for format := range v {
			var lower []string
			if i > 0 {
				lower = append(lower, versions[i-1][format])
			}
			for _, u := range upstream[format] {
				// apk has no epochs: an untagged commit's 0.0.0 stays below.
				if format == "apk" && strings.HasPrefix(chain[i], "v0.") {
					continue
				}
				lower = append(lower, u)
			}
			for _, l := range lower {
				switch format {
				case "deb":
					if out, err := exec.Command(dpkg, "--compare-versions", l, "lt", v[format]).CombinedOutput(); err != nil {
						t.Errorf("dpkg: %s is not older than %s (%s): %v %s", l, v[format], chain[i], err, out)
					}
				case "rpm":
					rpmPairs = append(rpmPairs, [2]string{l, v[format]})
				case "apk":
					if out, err := exec.Command(apkvercmp, l, v[format]).CombinedOutput(); err != nil || string(out) != "<\n" {
						t.Errorf("apk: %s is not older than %s (%s): %v %s", l, v[format], chain[i], err, out)
					}
				}
			}
		}
	}
	// One rpm run compares them all, with rpm's own rpmvercmp (epochs too).
	var lua strings.Builder
	for _, p := range rpmPairs {
		lua.WriteString(`print(rpm.vercmp("` + p[0] + `", "` + p[1] + `") .. " ") `)
	}
	out, err := exec.Command(rpm, "--eval", "%{lua: "+lua.String()+"}").Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	results := strings.Fields(string(out))
	if len(results) != len(rpmPairs) {
		t.Fatalf("rpm compared %d pairs, want %d: %q", len(results), len(rpmPairs), out)
	}
	for i, r := range results {
		if r != "-1" {
			t.Errorf("rpm: %s is not older than %s (vercmp %s)", rpmPairs[i][0], rpmPairs[i][1], r)
		}
	}
	// apk's limit, as docs/release.md says: an untagged commit is older
	// than upstream's packages.
	if out, _ := exec.Command(apkvercmp, versions[0]["apk"], "1.14-r0").Output(); string(out) != "<\n" {
		t.Errorf("apk: %s against 1.14-r0: %q; docs/release.md says an untagged build sorts below", versions[0]["apk"], out)
	}
	t.Logf("versions: %v", versions)
}

// packageOf is the release's package of one format for asset a ("" when the
// format has no such architecture), as scripts/release.sh names it.
func packageOf(t *testing.T, dir, format string, a asset) string {
	t.Helper()
	arch := map[string]string{"deb": a.deb, "rpm": a.rpm, "apk": a.apk}[format]
	if arch == "" {
		return ""
	}
	v := pkgVersions(t, moduleVersion(t, dir+"/gosu-"+a.name))[format]
	noEpoch := v[strings.Index(v, ":")+1:]
	return dir + "/" + map[string]string{
		"deb": "gosu_" + noEpoch + "_" + arch + ".deb",
		"rpm": "gosu-" + noEpoch + "." + arch + ".rpm",
		"apk": "gosu-" + v + "." + arch + ".apk",
	}[format]
}

// TestPackageContents opens every package of the release: its version is
// scripts/pkgversion.sh's for the release, its architecture the asset's, and
// it holds the asset's exact bytes at /usr/sbin/gosu (mode 0755, root's), the
// man page and the license. For apk, which no tool here can install, the
// archive is checked as apk-tools checks it: the control's datahash is the
// SHA-256 of the data archive, each file's APK-TOOLS.checksum.SHA1 header its
// SHA-1.
func TestPackageContents(t *testing.T) {
	dir := release(t)
	repo := repoRoot(t)
	dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
	rpm := needTool(t, "rpm", "rpm")
	man := gitShow(t, repo, "docs/gosu.1")
	license := gitShow(t, repo, "LICENSE")
	files := listRelease(t, dir)
	seen := 0
	for _, a := range assets {
		binary := readFile(t, dir+"/gosu-"+a.name)
		versions := pkgVersions(t, moduleVersion(t, dir+"/gosu-"+a.name))
		if deb := packageOf(t, dir, "deb", a); deb != "" {
			seen++
			fields := map[string]string{}
			for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Section", "Priority"} {
				out, err := exec.Command(dpkgDeb, "--field", deb, f).Output()
				if err != nil {
					t.Fatalf("dpkg-deb --field %s: %v", deb, err)
				}
				fields[f] = strings.TrimSpace(string(out))
			}
			if fields["Package"] != "gosu" || fields["Version"] != versions["deb"] || fields["Architecture"] != a.deb || fields["Maintainer"] == "" {
				t.Errorf("%s: control %v, want gosu %s %s", filepath.Base(deb), fields, versions["deb"], a.deb)
			}
			data, err := exec.Command(dpkgDeb, "--fsys-tarfile", deb).Output()
			if err != nil {
				t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
			}
			got := tarFiles(t, bytes.NewReader(data))
			checkPackageFile(t, deb, got, "./usr/sbin/gosu", binary, 0o755)
			checkPackageFile(t, deb, got, "./usr/share/man/man1/gosu.1.gz", gzipped(t, man), 0o644)
			for _, f := range []string{"./usr/share/doc/gosu/copyright", "./usr/share/doc/gosu/changelog.gz", "./usr/share/lintian/overrides/gosu"} {
				if got[f] == nil {
					t.Errorf("%s lacks %s", filepath.Base(deb), f)
				}
			}
			if cl := string(gunzip(t, got["./usr/share/doc/gosu/changelog.gz"].data)); !strings.HasPrefix(cl, "gosu ("+versions["deb"]+") unstable; urgency=medium\n") {
				t.Errorf("%s: the Debian changelog starts %q, want this version's entry", filepath.Base(deb), cl[:min(len(cl), 80)])
			}
		}
		if rpmFile := packageOf(t, dir, "rpm", a); rpmFile != "" {
			seen++
			out, err := exec.Command(rpm, "-qp", "--qf", "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}\n", rpmFile).Output()
			if want := "gosu " + versions["rpm"] + " " + a.rpm + " Apache-2.0\n"; err != nil || string(out) != want {
				t.Errorf("%s: %q (%v), want %q", filepath.Base(rpmFile), out, err, want)
			}
			// --dump: path size mtime digest mode owner group ...
			dump, err := exec.Command(rpm, "-qp", "--dump", rpmFile).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"/usr/sbin/gosu":                   sha256Hex(binary) + " 0100755 root root",
				"/usr/share/man/man1/gosu.1.gz":    sha256Hex(gzipped(t, man)) + " 0100644 root root",
				"/usr/share/licenses/gosu/LICENSE": sha256Hex(license) + " 0100644 root root",
			}
			for line := range strings.SplitSeq(string(dump), "\n") {
				if f := strings.Fields(line); len(f) > 6 && want[f[0]] != "" {
					if got := strings.Join(f[3:7], " "); got != want[f[0]] {
						t.Errorf("%s: %s is %s, want %s", filepath.Base(rpmFile), f[0], got, want[f[0]])
					}
					delete(want, f[0])
				}
			}
			if len(want) > 0 {
				t.Errorf("%s lacks %v", filepath.Base(rpmFile), want)
			}
		}
		if apk := packageOf(t, dir, "apk", a); apk != "" {
			seen++
			info, data := readAPK(t, apk)
			for k, v := range map[string]string{"pkgname": "gosu", "pkgver": versions["apk"], "arch": a.apk, "license": "Apache-2.0"} {
				if info[k] != v {
					t.Errorf("%s: .PKGINFO %s = %q, want %q", filepath.Base(apk), k, info[k], v)
				}
			}
			checkPackageFile(t, apk, data, "usr/sbin/gosu", binary, 0o755)
			checkPackageFile(t, apk, data, "usr/share/man/man1/gosu.1.gz", gzipped(t, man), 0o644)
			checkPackageFile(t, apk, data, "usr/share/licenses/gosu/LICENSE", license, 0o644)
		}
	}
	if n := len(files.packages["deb"]) + len(files.packages["rpm"]) + len(files.packages["apk"]); n != seen {
		t.Errorf("the release has %d packages, the assets name %d", n, seen)
	}
	if len(files.packages["deb"]) < 10 || len(files.packages["rpm"]) < 2 || len(files.packages["apk"]) < 2 {
		t.Errorf("packages %v: want a .deb for each Debian architecture, .rpm and .apk for x86_64 and aarch64 at least", files.packages)
	}
}

// gitShow is a file as HEAD has it (the release is built from HEAD).
func gitShow(t *testing.T, repo, path string) []byte {
	t.Helper()
	out, err := exec.Command("git", "-c", "safe.directory=*", "-C", repo, "show", "HEAD:"+path).Output()
	if err != nil {
		t.Fatalf("git show HEAD:%s: %v", path, err)
	}
	return out
}

// gzipped is data compressed as release.sh does (gzip -9n).
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("gzip", "-9n")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// tarEntry is a regular file of an archive.
type tarEntry struct {
	data []byte
	hdr  *tar.Header
}

// tarFiles reads the regular files of one tar archive.
func tarFiles(t *testing.T, r io.Reader) map[string]*tarEntry {
	t.Helper()
	files := map[string]*tarEntry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = &tarEntry{data, h}
	}
}

// checkPackageFile requires a package's file with these bytes and mode,
// owned by root.
func checkPackageFile(t *testing.T, pkg string, files map[string]*tarEntry, name string, want []byte, mode int64) {
	t.Helper()
	f := files[name]
	switch {
	case f == nil:
		t.Errorf("%s lacks %s", filepath.Base(pkg), name)
	case !bytes.Equal(f.data, want) || f.hdr.Mode&0o7777 != mode || f.hdr.Uid != 0 || f.hdr.Gid != 0:
		t.Errorf("%s: %s is %d bytes, mode %o, owner %d:%d; want %d bytes (the release's), mode %o, root's",
			filepath.Base(pkg), name, len(f.data), f.hdr.Mode, f.hdr.Uid, f.hdr.Gid, len(want), mode)
	}
}

// readAPK reads an unsigned .apk (version 2: a gzipped control tar, then a
// gzipped data tar, concatenated) and checks it as apk-tools does: .PKGINFO's
// datahash is the SHA-256 of the data stream, and every file's
// APK-TOOLS.checksum.SHA1 header is its SHA-1. It returns .PKGINFO's fields
// and the data files.
func readAPK(t *testing.T, path string) (map[string]string, map[string]*tarEntry) {
	t.Helper()
	raw := readFile(t, path)
	// A bytes.Reader is an io.ByteReader: gzip reads exactly one member
	// from it, so its position tells where the next one starts.
	r := bytes.NewReader(raw)
	z, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	z.Multistream(false)
	control := tarFiles(t, z)
	if _, err := io.Copy(io.Discard, z); err != nil {
		t.Fatal(err)
	}
	dataStart := len(raw) - r.Len()
	if err := z.Reset(r); err != nil {
		t.Fatalf("%s: no data archive after the control one: %v", path, err)
	}
	z.Multistream(false)
	data := tarFiles(t, z)
	if r.Len() != 0 {
		if _, err := io.Copy(io.Discard, z); err != nil || r.Len() != 0 {
			t.Errorf("%s: %d bytes after the data archive", path, r.Len())
		}
	}
	if control[".PKGINFO"] == nil {
		t.Fatalf("%s has no .PKGINFO", path)
	}
	info := map[string]string{}
	for line := range strings.SplitSeq(string(control[".PKGINFO"].data), "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			info[k] = v
		}
	}
	if info["datahash"] != sha256Hex(raw[dataStart:]) {
		t.Errorf("%s: datahash %s, the data archive's SHA-256 is %s", path, info["datahash"], sha256Hex(raw[dataStart:]))
	}
	for name, f := range data {
		sum := sha1.Sum(f.data)
		if got := f.hdr.PAXRecords["APK-TOOLS.checksum.SHA1"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: %s has APK-TOOLS.checksum.SHA1 %q, its SHA-1 is %x", path, name, got, sum)
		}
	}
	return info, data
}

// TestPackageLintian runs lintian on every .deb of the release: no error and
// no warning; the two tags every static Go binary with symbols gets are
// overridden by the package's own override file, with the reasons
// (packaging/debian/lintian-overrides), and show as overridden.
func TestPackageLintian(t *testing.T) {
	dir := release(t)
	lintian := needTool(t, "lintian", "lintian")
	debs := listRelease(t, dir).packages["deb"]
	// Debian 12's lintian (2.116) predates Debian's loong64 port: its
	// architecture tables lack it, so it calls the architecture unknown and
	// the loong64 ELF binary one "from another architecture". For that
	// package only, and only while lintian does not know loong64, those two
	// tags are left out.
	hostArchs, err := os.ReadFile("/usr/share/lintian/data/architectures/host.json")
	knowsLoong64 := err == nil && bytes.Contains(hostArchs, []byte(`"loong64"`))
	var strict, loong64 []string
	for _, deb := range debs {
		if strings.HasSuffix(deb, "_loong64.deb") && !knowsLoong64 {
			loong64 = append(loong64, dir+"/"+deb)
		} else {
			strict = append(strict, dir+"/"+deb)
		}
	}
	var out []byte
	for _, run := range [][]string{strict, loong64} {
		if len(run) == 0 {
			continue
		}
		// The verdict is the tags below: with --show-overrides, lintian 2.116
		// also fails on the overridden ones.
		args := []string{"--fail-on", "none", "--show-overrides", "--display-info"}
		if len(loong64) > 0 && run[0] == loong64[0] {
			args = append(args, "--suppress-tags", "unknown-architecture,binary-from-other-architecture")
		}
		start := time.Now()
		o, err := exec.Command(lintian, append(args, run...)...).CombinedOutput()
		t.Logf("lintian %s on %d packages took %v:\n%s", strings.Join(args, " "), len(run), time.Since(start).Round(time.Millisecond), o)
		if err != nil {
			t.Errorf("lintian: %v", err)
		}
		out = append(out, o...)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
	for _, tag := range []string{"O: gosu: statically-linked-binary [usr/sbin/gosu]", "O: gosu: unstripped-binary-or-object [usr/sbin/gosu]"} {
		if n := strings.Count(string(out), tag+"\n"); n != len(debs) {
			t.Errorf("lintian reported %q %d times, want once per package (%d)", tag, n, len(debs))
		}
	}
}

// hostPackage is the release's package of a format for this machine.
func hostPackage(t *testing.T, dir, format string) string {
	t.Helper()
	for _, a := range assets {
		if a.name == hostAsset(t) {
			if p := packageOf(t, dir, format, a); p != "" {
				return p
			}
		}
	}
	t.Fatalf("no %s package for %s", format, runtime.GOARCH)
	return ""
}

// overlayScript runs a bash script, as root, in a private mount namespace
// where $root is a writable overlay of this machine's own root file system
// (a real Debian system) on a tmpfs, with /proc, /dev and an empty /tmp:
// whatever the script installs there is gone when it ends, and nothing
// outside changes. The files are copied to $root/tmp and are the script's
// arguments; `inside CMD...` runs a command in $root, in a clean environment.
// It returns the output.
func overlayScript(t *testing.T, script string, files ...string) string {
	t.Helper()
	needRoot(t)
	unshare := needTool(t, "unshare", "util-linux")
	scratch := t.TempDir()
	prologue := `set -eu
scratch=$1
shift
mount -t tmpfs -o mode=0755 tmpfs "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$scratch/upper",workdir="$scratch/work" "$scratch/root"
root=$scratch/root
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
for f in "$@"; do cp -r "$f" "$root/tmp/"; done
# Commands inside, in a clean environment.
inside() { chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
# The same, showing the output only when the command fails.
quiet() { inside "$@" >"$scratch/log" 2>&1 || { cat "$scratch/log"; return 1; }; }
`
	cmd := exec.Command(unshare, append([]string{"-m", "--propagation", "private", "bash", "-c", prologue + script, "overlay", scratch}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in the overlay of /: %v\n%s", err, out)
	}
	return string(out)
}

// section is the output between "== name" and the next "== " line.
func section(out, name string) string {
	_, after, ok := strings.Cut(out, "== "+name+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(after, "\n== "); i >= 0 {
		return after[:i+1]
	}
	return after
}

// TestPackageDebInstall installs the release's .deb with apt on a real
// Debian system (an overlay of this machine's root, which has Debian's gosu
// 1.14 installed) and runs it: the package replaces Debian's in place (the
// same name, a newer version: no Conflicts or Replaces needed), nothing of
// Debian's package is left, `gosu nobody PROBE` switches as the kernel
// reports, and after a purge a fresh install works too.
func TestPackageDebInstall(t *testing.T) {
	dir := release(t)
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version} ${Status}", "gosu").Output()
	need(t, err == nil && strings.HasSuffix(string(out), " install ok installed"),
		"needs Debian's gosu package installed (apt-get install gosu): the .deb must replace it")
	debianVersion, _, _ := strings.Cut(string(out), " ")
	deb := hostPackage(t, dir, "deb")
	version := pkgVersions(t, moduleVersion(t, dir+"/gosu-"+hostAsset(t)))["deb"]
	start := time.Now()
	out2 := overlayScript(t, `
deb=/tmp/$(basename "$2")
echo "== before"; inside dpkg-query -W -f '${Version}\n' gosu
echo "== install"; inside apt-get install -y --no-install-recommends "$deb"
echo "== after"; inside dpkg-query -W -f '${Version} ${Status}\n' gosu
echo "== files"; inside dpkg -L gosu
echo "== version"; inside gosu --version
echo "== probe"; inside gosu nobody /tmp/probe
echo "== purge"; quiet apt-get purge -y gosu; inside sh -c 'ls /usr/sbin/gosu /usr/share/doc/gosu 2>&1 || true'
echo "== fresh"; quiet apt-get install -y --no-install-recommends "$deb"; inside gosu nobody id
echo "== end"
`, bin+"/probe", deb)
	t.Logf("apt-get install in an overlay of / took %v:\n%s", time.Since(start).Round(time.Millisecond), out2)

	if got := section(out2, "before"); got != debianVersion+"\n" {
		t.Errorf("before: gosu %q installed, want Debian's %s", got, debianVersion)
	}
	if !strings.Contains(section(out2, "install"), "\nUnpacking gosu ("+version+") over ("+debianVersion+") ...") {
		t.Errorf("apt-get install did not upgrade Debian's gosu in place:\n%s", section(out2, "install"))
	}
	for line := range strings.SplitSeq(section(out2, "install"), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("apt-get install: %s", line)
		}
	}
	if got := section(out2, "after"); got != version+" install ok installed\n" {
		t.Errorf("after: %q, want %s install ok installed", got, version)
	}
	var files []string
	for _, f := range strings.Fields(section(out2, "files")) {
		if f != "/." && !strings.HasSuffix(f, "/share") && f != "/usr" && f != "/usr/sbin" {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	wantFiles := "/usr/sbin/gosu /usr/share/doc /usr/share/doc/gosu /usr/share/doc/gosu/changelog.gz /usr/share/doc/gosu/copyright /usr/share/lintian /usr/share/lintian/overrides /usr/share/lintian/overrides/gosu /usr/share/man /usr/share/man/man1 /usr/share/man/man1/gosu.1.gz"
	if strings.Join(files, " ") != wantFiles {
		t.Errorf("dpkg -L gosu: %q, want %q (nothing left of Debian's package)", files, wantFiles)
	}
	wantVersion := strings.TrimPrefix(moduleVersion(t, dir+"/gosu-"+hostAsset(t)), "v") + " (" + releaseToolchain(t) + " on linux/" + runtime.GOARCH + "; gc)\n"
	if got := section(out2, "version"); got != wantVersion {
		t.Errorf("gosu --version: %q, want %q", got, wantVersion)
	}
	r := result{probe: map[string]string{}}
	for line := range strings.SplitSeq(section(out2, "probe"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			r.probe[k] = v
		}
	}
	r.expect(t, "gosu nobody probe", map[string]string{
		"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "",
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps,
	})
	if got := section(out2, "purge"); !strings.Contains(got, "'/usr/sbin/gosu': No such file") || !strings.Contains(got, "'/usr/share/doc/gosu': No such file") {
		t.Errorf("after apt-get purge gosu: %q, want the files gone", got)
	}
	if got := section(out2, "fresh"); !strings.HasPrefix(got, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)") {
		t.Errorf("fresh install: gosu nobody id: %q", got)
	}
}

// TestPackageRPMInstall installs the release's .rpm with rpm into an empty
// root (rpm --root), checks rpm's own record of it (rpm -q, rpm -V), runs
// the installed gosu there (chroot, with the fixture accounts as its /etc)
// and erases it.
func TestPackageRPMInstall(t *testing.T) {
	dir := release(t)
	needRoot(t)
	rpm := needTool(t, "rpm", "rpm")
	pkg := hostPackage(t, dir, "rpm")
	version := pkgVersions(t, moduleVersion(t, dir+"/gosu-"+hostAsset(t)))["rpm"]
	root := publicDir(t)
	rpmIn := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(rpm, append([]string{"--root", root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm --root %s %s: %v\n%s", root, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	rpmIn("--initdb")
	rpmIn("-i", pkg)
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}[runtime.GOARCH]
	if got := rpmIn("-q", "--qf", "%{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}\n", "gosu"); got != version+" "+arch+"\n" {
		t.Errorf("rpm -q gosu: %q, want %s %s", got, version, arch)
	}
	if got := rpmIn("-V", "gosu"); got != "" {
		t.Errorf("rpm -V gosu: %q, want nothing changed", got)
	}
	if got := rpmIn("-ql", "gosu"); got != "/usr/sbin/gosu\n/usr/share/doc/gosu/CHANGELOG.md\n/usr/share/licenses/gosu/LICENSE\n/usr/share/man/man1/gosu.1.gz\n" {
		t.Errorf("rpm -ql gosu: %q", got)
	}
	if err := os.MkdirAll(root+"/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, accounts+"/passwd", root+"/etc/passwd")
	copyFile(t, accounts+"/group", root+"/etc/group")
	copyFile(t, bin+"/probe", root+"/probe")
	if err := os.Mkdir(root+"/proc", 0o555); err != nil {
		t.Fatal(err)
	}
	// The probe reads /proc/self/status: a private /proc in the root.
	r := run(t, nil, needTool(t, "unshare", "util-linux"), "-m", "--propagation", "private", "sh", "-c",
		`mount -t proc proc "$1/proc" && exec chroot "$1" /usr/sbin/gosu app /probe`, "sh", root)
	r.expect(t, "chroot ROOT /usr/sbin/gosu app /probe", map[string]string{
		"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "50 100",
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "env.HOME": "/home/app",
	})
	rpmIn("-e", "gosu")
	if _, err := os.Lstat(root + "/usr/sbin/gosu"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after rpm -e gosu, /usr/sbin/gosu: %v", err)
	}
}
