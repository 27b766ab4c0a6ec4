package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// asset is one release binary, how this machine runs it, and its packages.
type asset struct {
	name, goarch, goarm string
	machine             elf.Machine
	class               elf.Class
	order               binary.ByteOrder
	// qemu is the qemu-user-static emulator, cpu the model it emulates: the
	// oldest core the asset promises to run on, so that an instruction too
	// new for it fails here rather than on a user's board.
	qemu, cpu string
	// The architecture's names for dpkg, rpm and apk ("": no package).
	deb, rpm, apk string
}

// assets mirrors scripts/release.sh: upstream's names (Debian architecture
// names) plus armv7.
var assets = []asset{
	{"amd64", "amd64", "", elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian, "qemu-x86_64-static", "", "amd64", "x86_64", "x86_64"},
	{"i386", "386", "", elf.EM_386, elf.ELFCLASS32, binary.LittleEndian, "", "", "i386", "", "x86"},
	{"armel", "arm", "5", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "arm926", "armel", "", ""},
	{"armhf", "arm", "6", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "arm1176", "armhf", "", "armhf"},
	{"armv7", "arm", "7", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "cortex-a7", "", "", "armv7"},
	{"arm64", "arm64", "", elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian, "qemu-aarch64-static", "", "arm64", "aarch64", "aarch64"},
	{"mips64el", "mips64le", "", elf.EM_MIPS, elf.ELFCLASS64, binary.LittleEndian, "qemu-mips64el-static", "", "mips64el", "", ""},
	{"ppc64el", "ppc64le", "", elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian, "qemu-ppc64le-static", "", "ppc64el", "ppc64le", "ppc64le"},
	{"riscv64", "riscv64", "", elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian, "qemu-riscv64-static", "", "riscv64", "", "riscv64"},
	{"s390x", "s390x", "", elf.EM_S390, elf.ELFCLASS64, binary.BigEndian, "qemu-s390x-static", "", "s390x", "s390x", "s390x"},
	{"loong64", "loong64", "", elf.EM_LOONGARCH, elf.ELFCLASS64, binary.LittleEndian, "qemu-loongarch64-static", "", "loong64", "", "loongarch64"},
}

// The full release, built once per run by scripts/release.sh from a clean
// clone of HEAD (never from the working tree, which others may be editing),
// signed with a throwaway key made for this run (releaseKey, its fingerprint,
// exported to releasePubKey; the GnuPG home is under bin, removed at the end).
var (
	releaseOnce   sync.Once
	releaseDir    string
	releaseErr    error
	releaseTook   time.Duration
	releaseKey    string
	releasePubKey string
)

// repoRoot is the top of the git checkout these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	needTool(t, "git", "git")
	// safe.directory: the checkout may belong to another user (a CI runner's).
	out, err := exec.Command("git", "-c", "safe.directory=*", "-C", "..", "rev-parse", "--show-toplevel").Output()
	need(t, err == nil, "needs a git checkout of gosu: release builds are stamped from git")
	return strings.TrimSpace(string(out))
}

// headCommit is the commit a release of HEAD is built from.
func headCommit(t *testing.T, repo string) string {
	t.Helper()
	out, err := exec.Command("git", "-c", "safe.directory=*", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// releaseScript runs scripts/release.sh with the given environment additions
// and arguments, and returns what it printed.
func releaseScript(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	repo := repoRoot(t)
	script := filepath.Join(repo, "scripts/release.sh")
	// A changed script must not leave a cached pass behind; the scripts it
	// runs come from the clone of HEAD, and so do the packaging files.
	dependOnFiles(t, repo, "scripts/release.sh", "scripts/pkgversion.sh", "scripts/debchangelog.sh",
		"scripts/tools.sh", "scripts/toolchain", "packaging/nfpm.yaml", "packaging/description",
		"packaging/debian/copyright", "packaging/debian/lintian-overrides", "CHANGELOG.md", "docs/gosu.1")
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return output.String(), errors.New("scripts/release.sh " + strings.Join(args, " ") + ": " + err.Error() + "\n" + output.String())
	}
	t.Logf("scripts/release.sh %s:\n%s", strings.Join(args, " "), output.String())
	return output.String(), nil
}

// dependOnFiles reads files of the repository, so that go test's cache keys
// on them (a test that only runs a script would otherwise pass from the
// cache after the script's inputs changed).
func dependOnFiles(t *testing.T, repo string, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := os.ReadFile(filepath.Join(repo, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// release returns the directory of the full release of HEAD, signed.
func release(t *testing.T) string {
	t.Helper()
	needTool(t, "go", "golang")
	gpg := needTool(t, "gpg", "gnupg")
	repoRoot(t)
	releaseOnce.Do(func() {
		start := time.Now()
		releaseDir = bin + "/release"
		home := bin + "/gnupg"
		if releaseKey, releasePubKey, releaseErr = throwawayKey(gpg, home); releaseErr != nil {
			return
		}
		_, releaseErr = releaseScript(t, []string{"GNUPGHOME=" + home}, "-k", releaseKey, releaseDir)
		// The agent that signed is not needed any more: verifying needs
		// only the public key.
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		releaseTook = time.Since(start)
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releaseDir
}

// throwawayKey makes a signing key (ed25519, no passphrase) in a new GnuPG
// home and returns its fingerprint and the armored public key's file.
func throwawayKey(gpg, home string) (fingerprint, pubkey string, err error) {
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", "", err
	}
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, errors.New("gpg " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String())
		}
		return out, nil
	}
	if _, err := run("--passphrase", "", "--quick-gen-key", "gosu e2e release test <release-test@example.invalid>", "ed25519", "sign", "1d"); err != nil {
		return "", "", err
	}
	out, err := run("--with-colons", "--list-secret-keys")
	if err != nil {
		return "", "", err
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			fingerprint = f[9]
			break
		}
	}
	if fingerprint == "" {
		return "", "", errors.New("gpg listed no fingerprint:\n" + string(out))
	}
	pub, err := run("--armor", "--export", fingerprint)
	if err != nil {
		return "", "", err
	}
	pubkey = home + "/release-key.asc"
	return fingerprint, pubkey, os.WriteFile(pubkey, pub, 0o644)
}

// releaseFiles sorts the files of a release directory: the binaries
// (gosu-ASSET), the SBOMs (gosu-ASSET.cdx.json), the packages by format
// (deb, rpm, apk) and the signatures (.asc).
type releaseFiles struct {
	binaries, sboms, signatures []string
	packages                    map[string][]string
}

func listRelease(t *testing.T, dir string) releaseFiles {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := releaseFiles{packages: map[string][]string{}}
	for _, e := range entries {
		name := e.Name()
		switch ext := filepath.Ext(name); {
		case name == "SHA256SUMS":
		case ext == ".asc":
			f.signatures = append(f.signatures, name)
		case strings.HasSuffix(name, ".cdx.json"):
			f.sboms = append(f.sboms, name)
		case ext == ".deb" || ext == ".rpm" || ext == ".apk":
			f.packages[ext[1:]] = append(f.packages[ext[1:]], name)
		case strings.HasPrefix(name, "gosu-") && ext == "":
			f.binaries = append(f.binaries, name)
		default:
			t.Errorf("release directory holds an unexpected file %s", name)
		}
	}
	return f
}

// checksums parses a SHA256SUMS file: name -> hex digest.
func checksums(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		sums[name] = sum
	}
	return sums
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestReleaseReproducible builds amd64 and arm64 a second time, in another
// clone in another directory, unsigned and with an empty build cache (so
// nothing is reused from the first build), and requires byte-identical
// binaries, SBOMs and packages.
func TestReleaseReproducible(t *testing.T) {
	first := release(t)
	t.Logf("full release (%d assets) took %v", len(assets), releaseTook.Round(time.Millisecond))
	second := t.TempDir() + "/out"
	start := time.Now()
	out, err := releaseScript(t, []string{"GOCACHE=" + t.TempDir()}, second, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("amd64+arm64 with an empty build cache took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "unsigned: no -k KEYID given") {
		t.Errorf("a release without -k does not say it is unsigned:\n%s", out)
	}
	files := listRelease(t, second)
	if len(files.signatures) != 0 {
		t.Errorf("a release without -k has signatures %v", files.signatures)
	}
	sums1, sums2 := checksums(t, first+"/SHA256SUMS"), checksums(t, second+"/SHA256SUMS")
	// gosu-amd64, gosu-arm64, their SBOMs, the deb, rpm and apk of each.
	if len(sums2) != 10 {
		t.Errorf("second SHA256SUMS lists %d files, want 10: %v", len(sums2), sums2)
	}
	for name, sum := range sums2 {
		a, err1 := os.ReadFile(first + "/" + name)
		b, err2 := os.ReadFile(second + "/" + name)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds of the same commit (%d and %d bytes)", name, len(a), len(b))
		}
		if sums1[name] != sum {
			t.Errorf("%s: SHA256SUMS say %s and %s", name, sums1[name], sum)
		}
	}
}

// TestReleaseAssets checks every asset as a file: listed in SHA256SUMS with
// the right digest, static, for the right machine, and stamped by Go with
// HEAD's commit, a real module version (not "(devel)") and a clean tree; and
// SHA256SUMS lists every file of the release but itself and the signatures.
// (Go does not record -ldflags in -trimpath builds: TestReleaseUnderQemu
// checks that `gosu --version` shows the module version.)
func TestReleaseAssets(t *testing.T) {
	dir := release(t)
	commit := headCommit(t, repoRoot(t))
	sums := checksums(t, dir+"/SHA256SUMS")
	files := listRelease(t, dir)
	listed := append(append([]string{}, files.binaries...), files.sboms...)
	for _, p := range files.packages {
		listed = append(listed, p...)
	}
	if len(sums) != len(listed) {
		t.Errorf("SHA256SUMS lists %d files, the release has %d besides it and the signatures", len(sums), len(listed))
	}
	for _, name := range listed {
		if got := sha256File(t, dir+"/"+name); sums[name] != got {
			t.Errorf("%s: SHA256SUMS says %q, the file is %s", name, sums[name], got)
		}
	}
	if len(files.binaries) != len(assets) {
		t.Errorf("the release has binaries %v, want one per asset (%d)", files.binaries, len(assets))
	}
	for _, a := range assets {
		path := dir + "/gosu-" + a.name
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != a.machine || f.Class != a.class || f.ByteOrder != a.order || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
			t.Errorf("gosu-%s is %v %v %v, want %v %v %v", a.name, f.Machine, f.Class, f.ByteOrder, a.machine, a.class, a.order)
		}
		if hasInterp(f) {
			t.Errorf("gosu-%s has a program interpreter: it is not static", a.name)
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("gosu-%s links shared libraries %v", a.name, libs)
		}
		f.Close()

		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatalf("gosu-%s: %v", a.name, err)
		}
		if !strings.HasPrefix(info.Main.Version, "v") || info.Main.Path != "gosu" {
			t.Errorf("gosu-%s: main module %s %q, want gosu with a version from git", a.name, info.Main.Path, info.Main.Version)
		}
		if info.GoVersion != releaseToolchain(t) {
			t.Errorf("gosu-%s was built with %s, want the release toolchain %s (scripts/toolchain)", a.name, info.GoVersion, releaseToolchain(t))
		}
		want := map[string]string{
			"vcs": "git", "vcs.revision": commit, "vcs.modified": "false", "CGO_ENABLED": "0",
			"GOOS": "linux", "GOARCH": a.goarch, "-trimpath": "true",
		}
		if a.goarm != "" {
			want["GOARM"] = a.goarm
		}
		got := map[string]string{}
		for _, s := range info.Settings {
			got[s.Key] = s.Value
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("gosu-%s: build setting %s=%q, want %q", a.name, k, got[k], v)
			}
		}
		if a.name == "amd64" {
			checkBudget(t, path)
		}
		t.Logf("gosu-%s: %d bytes", a.name, len(readFile(t, path)))
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReleaseSignatures verifies the release as upstream's users verify
// theirs: in a GnuPG home that holds only the release's public key, `gpg
// --batch --verify gosu-ASSET.asc gosu-ASSET` for every binary, and
// SHA256SUMS.asc for SHA256SUMS (which covers the SBOMs and packages), each a
// good signature by that key. A changed byte makes the check fail, and so
// does a keyring without the key.
func TestReleaseSignatures(t *testing.T) {
	dir := release(t)
	gpg := needTool(t, "gpg", "gnupg")
	home := t.TempDir()
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	if out, err := exec.Command(gpg, "--homedir", home, "--batch", "--import", releasePubKey).CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	verify := func(sig, file string) (string, error) {
		cmd := exec.Command(gpg, "--homedir", home, "--batch", "--status-fd", "1", "--verify", sig, file)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	files := listRelease(t, dir)
	want := append([]string{"SHA256SUMS"}, files.binaries...)
	if len(files.signatures) != len(want) {
		t.Errorf("signatures %v, want one for each of %v", files.signatures, want)
	}
	for _, name := range want {
		sig := dir + "/" + name + ".asc"
		if !bytes.HasPrefix(readFile(t, sig), []byte("-----BEGIN PGP SIGNATURE-----\n")) {
			t.Errorf("%s.asc is not an armored detached signature", name)
		}
		out, err := verify(sig, dir+"/"+name)
		if err != nil || !strings.Contains(out, "[GNUPG:] VALIDSIG "+releaseKey+" ") || !strings.Contains(out, "[GNUPG:] GOODSIG ") {
			t.Errorf("gpg --verify %s.asc %s: %v\n%s", name, name, err, out)
		}
	}
	// A GnuPG home without the release's key: no signature is good.
	empty := t.TempDir()
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", empty, "--kill", "all").Run() })
	cmd := exec.Command(gpg, "--homedir", empty, "--batch", "--status-fd", "1", "--verify", dir+"/SHA256SUMS.asc", dir+"/SHA256SUMS")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "[GNUPG:] NO_PUBKEY ") {
		t.Errorf("gpg --verify without the release's key: %v\n%s", err, out)
	}
	// One flipped byte in a copy of a binary.
	tampered := t.TempDir() + "/gosu-amd64"
	data := readFile(t, dir+"/gosu-amd64")
	data[len(data)/2] ^= 1
	if err := os.WriteFile(tampered, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(dir+"/gosu-amd64.asc", tampered); err == nil || !strings.Contains(out, "[GNUPG:] BADSIG ") {
		t.Errorf("gpg --verify accepted a changed binary: %v\n%s", err, out)
	}
}

// TestReleaseSBOM reads each binary's CycloneDX SBOM: it names the binary (by
// its SHA-256), the module gosu at the version Go stamped, the commit, a
// clean tree, golang.org/x/sys at go.mod's version, and the release
// toolchain as the standard library.
func TestReleaseSBOM(t *testing.T) {
	dir := release(t)
	commit := headCommit(t, repoRoot(t))
	toolchain := releaseToolchain(t)
	xsys := ""
	for line := range strings.SplitSeq(string(readFile(t, "../go.mod")), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "golang.org/x/sys" {
			xsys = f[1]
		}
	}
	type component struct{ Name, Version, Purl string }
	var bom struct {
		BomFormat, SpecVersion string
		Metadata               struct {
			Component  component
			Properties []struct{ Name, Value string }
		}
		Components []component
	}
	for _, a := range assets {
		name := "gosu-" + a.name
		if err := json.Unmarshal(readFile(t, dir+"/"+name+".cdx.json"), &bom); err != nil {
			t.Fatalf("%s.cdx.json: %v", name, err)
		}
		props := map[string]string{}
		for _, p := range bom.Metadata.Properties {
			props[p.Name] = p.Value
		}
		version := moduleVersion(t, dir+"/"+name)
		c := bom.Metadata.Component
		if bom.BomFormat != "CycloneDX" || c.Name != "gosu" || c.Version != version || !strings.Contains(c.Purl, "goarch="+a.goarch) {
			t.Errorf("%s.cdx.json: %s %s, component %+v; want CycloneDX, gosu %s for %s", name, bom.BomFormat, bom.SpecVersion, c, version, a.goarch)
		}
		for k, v := range map[string]string{
			"cdx:gomod:binary:hash:SHA-256": sha256File(t, dir+"/"+name), "cdx:gomod:build:vcs:revision": commit,
			"cdx:gomod:build:vcs:modified": "false", "cdx:gomod:build:env:GOVERSION": toolchain,
			"cdx:gomod:build:env:CGO_ENABLED": "0", "cdx:gomod:build:env:GOARCH": a.goarch,
		} {
			if props[k] != v {
				t.Errorf("%s.cdx.json: %s = %q, want %q", name, k, props[k], v)
			}
		}
		deps := map[string]string{}
		for _, c := range bom.Components {
			deps[c.Name] = c.Version
		}
		if deps["golang.org/x/sys"] != xsys || deps["std"] != toolchain || len(deps) != 2 {
			t.Errorf("%s.cdx.json: components %v, want golang.org/x/sys %s and std %s", name, deps, xsys, toolchain)
		}
	}
}

// TestReleaseVersion: the version comes from git tags, the same for Go's
// stamp, `gosu --version` and the packages; a release tag needs its dated
// section in CHANGELOG.md. Tags and commits go to a throwaway clone.
func TestReleaseVersion(t *testing.T) {
	repo := repoRoot(t)
	needTool(t, "go", "golang")
	clone := t.TempDir() + "/repo"
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", clone, "-c", "user.name=test", "-c", "user.email=test@example.invalid"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %q: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("git", "clone", "-q", "--upload-pack=git -c 'safe.directory=*' upload-pack", repo, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	build := func(wantVersion *regexp.Regexp, wantPackages ...string) {
		// wantPackages: the deb, the rpm and the apk.
		t.Helper()
		out := t.TempDir()
		if _, err := releaseScript(t, nil, "-C", clone, out, "amd64"); err != nil {
			t.Fatal(err)
		}
		info, err := buildinfo.ReadFile(out + "/gosu-amd64")
		if err != nil {
			t.Fatal(err)
		}
		if !wantVersion.MatchString(info.Main.Version) {
			t.Errorf("module version %q, want %v", info.Main.Version, wantVersion)
		}
		files := listRelease(t, out)
		for i, format := range []string{"deb", "rpm", "apk"} {
			if len(files.packages[format]) != 1 || files.packages[format][0] != wantPackages[i] {
				t.Errorf("%s packages %v, want %s", format, files.packages[format], wantPackages[i])
			}
		}
		if runtime.GOARCH != "amd64" {
			return
		}
		r := run(t, nil, out+"/gosu-amd64", "--version")
		want := strings.TrimPrefix(info.Main.Version, "v") + " (" + releaseToolchain(t) + " on linux/amd64; gc)\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("gosu --version: exit %d, %q; want %q", r.code, r.stdout, want)
		}
	}

	// A release tag on a commit whose CHANGELOG.md has no section for it.
	git("tag", "v1.2.3")
	if out, err := releaseScript(t, nil, "-C", clone, t.TempDir(), "amd64"); err == nil ||
		!strings.Contains(out, "v1.2.3 is a release, but CHANGELOG.md's newest section is") {
		t.Errorf("a release without its CHANGELOG.md section was built: %v\n%s", err, out)
	}
	changelog := readFile(t, clone+"/CHANGELOG.md")
	i := bytes.Index(changelog, []byte("\n## "))
	changelog = append(changelog[:i+1], append([]byte("## 1.2.3 (2026-12-03)\n\n### Fixed\n- Everything.\n\n"), changelog[i+1:]...)...)
	changelog = bytes.Replace(changelog, []byte(" (unreleased)\n"), []byte(" (2026-12-01)\n"), 1)
	if err := os.WriteFile(clone+"/CHANGELOG.md", changelog, 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-am", "1.2.3")
	git("tag", "-f", "v1.2.3")
	build(regexp.MustCompile(`^v1\.2\.3$`), "gosu_1.2.3_amd64.deb", "gosu-1.2.3-1.x86_64.rpm", "gosu-1.2.3-r0.x86_64.apk")

	git("commit", "-q", "--allow-empty", "-m", "after the release")
	c := commitStamp(t, clone)
	build(regexp.MustCompile(`^v1\.2\.4-0\.`+c.stamp+`-`+c.hash+`$`),
		"gosu_1.2.4~0."+c.stamp+"."+c.hash+"_amd64.deb", "gosu-1.2.4~0."+c.stamp+"."+c.hash+"-1.x86_64.rpm",
		"gosu-1.2.3_git"+c.stamp[:8]+"_p"+c.timeOfDay+"-r0.x86_64.apk")
}

// stamp is what a pseudo-version says of a commit: its time
// (yyyymmddhhmmss, UTC), the first 12 digits of its hash, and (for apk) the
// time of day as a number.
type stamp struct{ stamp, hash, timeOfDay string }

func commitStamp(t *testing.T, repo string) stamp {
	t.Helper()
	out, err := exec.Command("git", "-C", repo, "log", "-1", "--format=%ct %H").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	secs, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(secs, 0).UTC()
	hms, _ := strconv.Atoi(when.Format("150405"))
	return stamp{when.Format("20060102150405"), f[1][:12], strconv.Itoa(hms)}
}

// TestReleaseUnderQemu runs every asset, under qemu-user-static where it is
// foreign. The system calls go to this kernel, so the switch is real: gosu
// (emulated) changes the credentials, then execs the native probe, which
// qemu-user hands straight to the kernel; the probe reports what the kernel
// says. This proves the credential and capability code on big-endian s390x
// and on the 32-bit targets (16- vs 32-bit id calls, 2^31 and above).
func TestReleaseUnderQemu(t *testing.T) {
	needRoot(t)
	dir := release(t)
	setpriv := needTool(t, "setpriv", "util-linux")
	for _, a := range assets {
		t.Run(a.name, func(t *testing.T) {
			prefix := runner(t, a)
			gosu := append(prefix, dir+"/gosu-"+a.name)
			start := time.Now()

			r := runRetry(t, nil, append(gosu, "--version")...)
			if r.code != 0 || !strings.HasPrefix(r.stdout, strings.TrimPrefix(moduleVersion(t, dir+"/gosu-"+a.name), "v")+" (") ||
				!strings.HasSuffix(r.stdout, " on linux/"+a.goarch+"; gc)\n") {
				t.Errorf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}

			// Started with an inheritable capability, which survives setuid
			// in the kernel: gosu must clear it.
			inh := []string{setpriv, "--inh-caps", "+net_bind_service"}
			base := runRetry(t, nil, withAccounts(append(inh, bin+"/probe")...)...)
			base.expect(t, "baseline", map[string]string{"Uid": "0 0 0 0", "CapInh": "0000000000000400"})
			r = runRetry(t, nil, withAccounts(append(append(inh, gosu...), "app", bin+"/probe")...)...)
			r.expect(t, "gosu app probe", map[string]string{
				"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "50 100",
				"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "env.HOME": "/home/app",
			})
			r = runRetry(t, nil, withAccounts(append(gosu, "high", bin+"/probe")...)...)
			r.expect(t, "gosu high probe", map[string]string{
				"Uid": "3000000000 3000000000 3000000000 3000000000", "Gid": "3000000001 3000000001 3000000001 3000000001",
				"Groups": "50 3000000002", "CapEff": noCaps,
			})
			r = runRetry(t, nil, withAccounts(append(gosu, "nobody:games", bin+"/probe")...)...)
			r.expect(t, "gosu nobody:games probe", map[string]string{
				"Uid": "65534 65534 65534 65534", "Gid": "60 60 60 60", "Groups": "",
			})

			// A malformed passwd line is never a match, on any architecture.
			r = runRetry(t, nil, withAccounts(append(gosu, "evil1", bin+"/probe")...)...)
			if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `/etc/passwd:11 has that name but is malformed and ignored: uid "notanumber"`) {
				t.Errorf("gosu evil1: exit %d, stdout %q, stderr %q; want exit 1, nothing run, the malformed line named", r.code, r.stdout, r.stderr)
			}

			// --chown reads directories with getdents64 and parses the
			// records by hand: big-endian, 32-bit, all of them.
			checkChown(t, gosu)
			t.Logf("%s via %q: %v", a.name, prefix, time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkChown gives a small tree to app with gosu --chown (gosu is the
// command that runs the asset) and reads the result with lstat: every entry
// 1000:1000, the symbolic link re-owned itself and its target outside left
// alone.
func checkChown(t *testing.T, gosu []string) {
	t.Helper()
	top := publicDir(t)
	outside := top + "/outside"
	vol := top + "/vol"
	for _, d := range []string{vol, vol + "/sub", vol + "/sub/deeper"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{outside, vol + "/a", vol + "/sub/b", vol + "/sub/deeper/c-with-a-longer-name-than-a-dirent-needs"} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, vol+"/sub/link"); err != nil {
		t.Fatal(err)
	}
	r := runRetry(t, nil, withAccounts(append(gosu, "--chown="+vol, "app", "true")...)...)
	if r.code != 0 {
		t.Fatalf("gosu --chown: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, p := range []string{"", "/a", "/sub", "/sub/b", "/sub/deeper", "/sub/deeper/c-with-a-longer-name-than-a-dirent-needs", "/sub/link"} {
		if st := lstat(t, vol+p); st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("--chown: vol%s is owned by %d:%d, want 1000:1000", p, st.Uid, st.Gid)
		}
	}
	if st := lstat(t, outside); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("--chown followed the symbolic link: its target is owned by %d:%d", st.Uid, st.Gid)
	}
}

// runner returns the command prefix that runs asset a here: nothing for the
// host's own architecture (and i386 on an amd64 kernel with IA32
// emulation), qemu-user-static otherwise.
func runner(t *testing.T, a asset) []string {
	t.Helper()
	if a.goarch == runtime.GOARCH {
		return nil
	}
	if a.goarch == "386" {
		// qemu-i386 crashes Go binaries (SIGSEGV in the runtime's TLS set-up),
		// so i386 runs natively or not at all.
		err := exec.Command(release(t)+"/gosu-i386", "--version").Run()
		need(t, !errors.Is(err, syscall.ENOEXEC) && runtime.GOARCH == "amd64",
			"needs a kernel that runs i386 binaries (CONFIG_IA32_EMULATION): qemu-i386 cannot run Go programs")
		return nil
	}
	qemu := needTool(t, a.qemu, "qemu-user-static")
	if a.cpu != "" {
		return []string{qemu, "-cpu", a.cpu}
	}
	return []string{qemu}
}

// moduleVersion is the main module's version Go stamped into a binary.
func moduleVersion(t *testing.T, path string) string {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Main.Version
}

// runRetry is run with a time limit. Go programs under qemu-user sometimes
// hang at start-up (upstream gosu's release build retries for the same
// reason), so a run that times out is tried again, up to three times; any
// other outcome counts.
func runRetry(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			if attempt < 3 {
				t.Logf("%q timed out (attempt %d): retrying", argv, attempt)
				continue
			}
			t.Fatalf("%q timed out %d times", argv, attempt)
		}
		return resultOf(t, argv, stdout.String(), stderr.String(), err)
	}
}
