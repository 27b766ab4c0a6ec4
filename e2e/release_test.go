package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// asset is one release binary and how this machine runs it.
type asset struct {
	name, goarch, goarm string
	machine             elf.Machine
	class               elf.Class
	order               binary.ByteOrder
	// qemu is the qemu-user-static emulator, cpu the model it emulates: the
	// oldest core the asset promises to run on, so that an instruction too
	// new for it fails here rather than on a user's board.
	qemu, cpu string
}

// assets mirrors scripts/release.sh: upstream's names (Debian architecture
// names) plus armv7.
var assets = []asset{
	{"amd64", "amd64", "", elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian, "qemu-x86_64-static", ""},
	{"i386", "386", "", elf.EM_386, elf.ELFCLASS32, binary.LittleEndian, "", ""},
	{"armel", "arm", "5", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "arm926"},
	{"armhf", "arm", "6", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "arm1176"},
	{"armv7", "arm", "7", elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian, "qemu-arm-static", "cortex-a7"},
	{"arm64", "arm64", "", elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian, "qemu-aarch64-static", ""},
	{"mips64el", "mips64le", "", elf.EM_MIPS, elf.ELFCLASS64, binary.LittleEndian, "qemu-mips64el-static", ""},
	{"ppc64el", "ppc64le", "", elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian, "qemu-ppc64le-static", ""},
	{"riscv64", "riscv64", "", elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian, "qemu-riscv64-static", ""},
	{"s390x", "s390x", "", elf.EM_S390, elf.ELFCLASS64, binary.BigEndian, "qemu-s390x-static", ""},
	{"loong64", "loong64", "", elf.EM_LOONGARCH, elf.ELFCLASS64, binary.LittleEndian, "qemu-loongarch64-static", ""},
}

// The full release, built once per run by scripts/release.sh from a clean
// clone of HEAD (never from the working tree, which others may be editing).
var (
	releaseOnce sync.Once
	releaseDir  string
	releaseErr  error
	releaseTook time.Duration
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
// and arguments.
func releaseScript(t *testing.T, env []string, args ...string) error {
	t.Helper()
	repo := repoRoot(t)
	script := filepath.Join(repo, "scripts/release.sh")
	// A changed script must not leave a cached pass behind.
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return errors.New("scripts/release.sh " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String())
	}
	t.Logf("scripts/release.sh %s:\n%s", strings.Join(args, " "), stderr.String())
	return nil
}

// release returns the directory of the full release of HEAD.
func release(t *testing.T) string {
	t.Helper()
	needTool(t, "go", "golang")
	repoRoot(t)
	releaseOnce.Do(func() {
		start := time.Now()
		releaseDir = bin + "/release"
		releaseErr = releaseScript(t, nil, releaseDir)
		releaseTook = time.Since(start)
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	return releaseDir
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
// clone in another directory and with an empty build cache (so nothing is
// reused from the first build), and requires byte-identical files.
func TestReleaseReproducible(t *testing.T) {
	first := release(t)
	t.Logf("full release (%d assets) took %v", len(assets), releaseTook.Round(time.Millisecond))
	second := t.TempDir()
	start := time.Now()
	if err := releaseScript(t, []string{"GOCACHE=" + t.TempDir()}, second+"/out", "amd64", "arm64"); err != nil {
		t.Fatal(err)
	}
	t.Logf("amd64+arm64 with an empty build cache took %v", time.Since(start).Round(time.Millisecond))
	sums1, sums2 := checksums(t, first+"/SHA256SUMS"), checksums(t, second+"/out/SHA256SUMS")
	if len(sums2) != 2 {
		t.Errorf("second SHA256SUMS lists %v, want gosu-amd64 and gosu-arm64 only", sums2)
	}
	for _, name := range []string{"gosu-amd64", "gosu-arm64"} {
		a, err1 := os.ReadFile(first + "/" + name)
		b, err2 := os.ReadFile(second + "/out/" + name)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds of the same commit (%d and %d bytes)", name, len(a), len(b))
		}
		if sums1[name] != sums2[name] {
			t.Errorf("%s: SHA256SUMS say %s and %s", name, sums1[name], sums2[name])
		}
	}
}

// TestReleaseAssets checks every asset as a file: listed in SHA256SUMS with
// the right digest, static, for the right machine, and stamped by Go with
// HEAD's commit, a real module version (not "(devel)") and a clean tree.
// (Go does not record -ldflags in -trimpath builds: TestReleaseUnderQemu
// checks that `gosu --version` shows the module version.)
func TestReleaseAssets(t *testing.T) {
	dir := release(t)
	commit := headCommit(t, repoRoot(t))
	sums := checksums(t, dir+"/SHA256SUMS")
	if len(sums) != len(assets) {
		t.Errorf("SHA256SUMS lists %d files, want %d", len(sums), len(assets))
	}
	for _, a := range assets {
		path := dir + "/gosu-" + a.name
		if got := sha256File(t, path); sums["gosu-"+a.name] != got {
			t.Errorf("gosu-%s: SHA256SUMS says %q, the file is %s", a.name, sums["gosu-"+a.name], got)
		}
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
	}
}

// TestReleaseVersion: the version comes from git tags, the same for Go's
// stamp and for `gosu --version`. Tags and commits go to a throwaway clone.
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
	build := func(wantVersion *regexp.Regexp) {
		t.Helper()
		out := t.TempDir()
		if err := releaseScript(t, nil, "-C", clone, out, "amd64"); err != nil {
			t.Fatal(err)
		}
		info, err := buildinfo.ReadFile(out + "/gosu-amd64")
		if err != nil {
			t.Fatal(err)
		}
		if !wantVersion.MatchString(info.Main.Version) {
			t.Errorf("module version %q, want %v", info.Main.Version, wantVersion)
		}
		if runtime.GOARCH != "amd64" {
			return
		}
		r := run(t, nil, out+"/gosu-amd64", "--version")
		want := strings.TrimPrefix(info.Main.Version, "v") + " (" + runtime.Version() + " on linux/amd64; gc)\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("gosu --version: exit %d, %q; want %q", r.code, r.stdout, want)
		}
	}
	git("tag", "v1.2.3")
	build(regexp.MustCompile(`^v1\.2\.3$`))
	git("commit", "-q", "--allow-empty", "-m", "after the release")
	build(regexp.MustCompile(`^v1\.2\.4-0\.[0-9]{14}-[0-9a-f]{12}$`))
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
			t.Logf("%s via %q: %v", a.name, prefix, time.Since(start).Round(time.Millisecond))
		})
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
