package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podman runs Debian's podman with a private store in a temporary directory:
// nothing the test builds or runs meets the machine's own images and
// containers (or another test's), and removing the directory removes it all.
type podman struct {
	bin    string
	global []string
}

// runFlags make podman 4.3 run containers here: runc (crun refuses this
// machine's hybrid cgroups), no network, and rlimits root can set without
// CAP_SYS_RESOURCE ("error setting rlimit type 7" otherwise).
var runFlags = []string{"--runtime", "runc", "--network=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}

func newPodman(t *testing.T) *podman {
	t.Helper()
	needRoot(t)
	p := &podman{bin: needTool(t, "podman", "podman")}
	store, err := os.MkdirTemp("", "gosu-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p.global = []string{"--root", store + "/root", "--runroot", store + "/run", "--tmpdir", store + "/tmp",
		"--storage-driver", "overlay", "--events-backend", "none"}
	t.Cleanup(func() {
		// Containers first (they hold the images' layers), then images; only
		// then is the store free of mounts and removable.
		p.cmd("rm", "--all", "--force", "--time", "0").Run()
		p.cmd("rmi", "--all", "--force").Run()
		if mounts, _ := os.ReadFile("/proc/self/mounts"); bytes.Contains(mounts, []byte(store)) {
			t.Errorf("podman left mounts under %s", store)
			return
		}
		if err := os.RemoveAll(store); err != nil {
			t.Errorf("removing the podman store: %v", err)
		}
	})
	return p
}

func (p *podman) cmd(args ...string) *exec.Cmd {
	return exec.Command(p.bin, append(append([]string{}, p.global...), args...)...)
}

// run runs podman and returns its stdout; any failure ends the test.
func (p *podman) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := p.cmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("podman %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// hostAsset is the release asset this machine runs natively.
func hostAsset(t *testing.T) string {
	t.Helper()
	for _, a := range assets {
		if a.goarch == runtime.GOARCH && (a.goarm == "" || a.goarm == "7") {
			return a.name
		}
	}
	t.Fatalf("no release asset for %s", runtime.GOARCH)
	return ""
}

// TestImage builds the FROM-scratch gosu image from a release, and the
// example image from it, in podman (offline, from local files only), and
// runs the example: the entrypoint fixes the volume's ownership as root,
// steps down to app, and the container stops promptly.
func TestImage(t *testing.T) {
	start := time.Now()
	p := newPodman(t)
	dir := release(t)
	repo := repoRoot(t)
	arch := hostAsset(t)
	version := strings.TrimPrefix(moduleVersion(t, dir+"/gosu-"+arch), "v")
	busybox := needTool(t, "busybox", "busybox-static")
	f, err := elf.Open(busybox)
	need(t, err == nil && !hasInterp(f), "needs a static busybox (apt-get install busybox-static)")
	f.Close()
	suffix := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	gosuImage := "localhost/gosu-e2e-" + suffix + ":" + version
	exampleImage := "localhost/gosu-example-e2e-" + suffix
	build := []string{"build", "--pull=never", "--layers=false", "--network=none", "--runtime", "runc",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}

	// The gosu image holds exactly the released file at /gosu. (Reading the
	// Dockerfile here also keys go test's cache on it.)
	if _, err := os.ReadFile(filepath.Join(repo, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	p.run(t, append(build, "-f", filepath.Join(repo, "Dockerfile"), "--build-arg", "GOSU_ARCH="+arch,
		"--build-arg", "GOSU_VERSION="+version, "-t", gosuImage, dir)...)
	checkImageFiles(t, p, gosuImage, dir+"/gosu-"+arch)
	var cfg []struct {
		Config struct {
			Entrypoint []string
			Labels     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(p.run(t, "image", "inspect", gosuImage)), &cfg); err != nil || len(cfg) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	if ep := cfg[0].Config.Entrypoint; len(ep) != 1 || ep[0] != "/gosu" {
		t.Errorf("gosu image entrypoint %q, want [/gosu]", ep)
	}
	if v := cfg[0].Config.Labels["org.opencontainers.image.version"]; v != version {
		t.Errorf("gosu image version label %q, want %q", v, version)
	}
	want := version + " (" + runtime.Version() + " on linux/" + runtime.GOARCH + "; gc)\n"
	if out := p.run(t, append(append([]string{"run", "--rm"}, runFlags...), gosuImage, "--version")...); out != want {
		t.Errorf("podman run gosu-image --version: %q, want %q", out, want)
	}

	// The example, built from a context of the example directory plus busybox.
	ctx := t.TempDir()
	entries, err := os.ReadDir(filepath.Join(repo, "example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		copyFile(t, filepath.Join(repo, "example", e.Name()), filepath.Join(ctx, e.Name()))
	}
	copyFile(t, busybox, filepath.Join(ctx, "busybox"))
	p.run(t, append(build, "-f", filepath.Join(ctx, "Containerfile"), "--build-arg", "GOSU_IMAGE="+gosuImage,
		"-t", exampleImage, ctx)...)
	entrypoint, err := os.ReadFile(filepath.Join(repo, "example/entrypoint.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// The example uses init mode when gosu has it; the two must agree.
	initMode := bytes.Contains(entrypoint, []byte("--init"))
	help := run(t, nil, dir+"/gosu-"+arch, "--help")
	switch hasInit := strings.Contains(help.stdout+help.stderr, "--init"); {
	case initMode && !hasInit:
		t.Fatal("example/entrypoint.sh uses --init, which gosu at HEAD (the release under test) lacks: commit init mode")
	case !initMode && hasInit:
		t.Error("gosu has --init: example/entrypoint.sh should use it (exec gosu --init ...)")
	}

	// The volume: a host directory owned by root, with a symbolic link to a
	// host file that must stay root's (the ownership fix never follows links).
	vol := publicDir(t)
	outside := publicDir(t) + "/secret"
	if err := os.WriteFile(outside, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"data", "data/sub"} {
		if err := os.Mkdir(filepath.Join(vol, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(vol+"/data/sub/old", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, vol+"/data/evil"); err != nil {
		t.Fatal(err)
	}
	mount := []string{"-v", vol + "/data:/data"}

	// id and the kernel's view of the command, stepped down to app.
	runArgs := append(append(append([]string{"run", "--rm"}, runFlags...), mount...), exampleImage)
	if out := p.run(t, append(runArgs, "id")...); out != "uid=1000(app) gid=1000(app)\n" {
		t.Errorf("podman run example id: %q", out)
	}
	status := parseStatus(p.run(t, append(runArgs, "sh", "-c", "echo Shell: $$; echo Init: $(cat /proc/1/comm); cat /proc/self/status")...))
	for k, v := range map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "",
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps} {
		if status[k] != v {
			t.Errorf("in the example container, %s = %q, want %q", k, status[k], v)
		}
	}
	// Plain gosu execs in place: the command is PID 1. In init mode gosu
	// stays PID 1 and the command is its child.
	if initMode && (status["Shell"] == "1" || status["Init"] != "gosu") || !initMode && status["Shell"] != "1" {
		t.Errorf("the command's PID is %s and PID 1 is %q (init mode %v)", status["Shell"], status["Init"], initMode)
	}
	for _, path := range []string{"data", "data/sub", "data/sub/old", "data/evil"} {
		if st := lstat(t, filepath.Join(vol, path)); st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("volume entry %s is owned by %d:%d, want 1000:1000", path, st.Uid, st.Gid)
		}
	}
	if st := lstat(t, outside); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("the symbolic link's target outside the volume is now owned by %d:%d: the fix followed it", st.Uid, st.Gid)
	}

	// The default command serves until stopped; what the user wrote into the
	// volume is theirs on the host.
	name := "gosu-example-e2e-" + suffix
	p.run(t, append(append(append([]string{"run", "-d", "--name", name}, runFlags...), mount...), exampleImage)...)
	deadline := time.Now().Add(30 * time.Second)
	var logs string
	for !strings.Contains(logs, "ready\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the example never said ready; logs:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
		logs = p.run(t, "logs", name)
	}
	if st := lstat(t, vol+"/data/hello"); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("data/hello written in the container is owned by %d:%d on the host, want 1000:1000", st.Uid, st.Gid)
	}
	const grace = 4
	stopStart := time.Now()
	p.run(t, "stop", "--time", strconv.Itoa(grace), name)
	took := time.Since(stopStart)
	code := strings.TrimSpace(p.run(t, "inspect", "--format", "{{.State.ExitCode}}", name))
	t.Logf("podman stop took %v, exit code %s (init mode %v)", took.Round(time.Millisecond), code, initMode)
	if initMode {
		// gosu passes TERM on to the command and exits as it did.
		if took > 2*time.Second || code != "143" {
			t.Errorf("podman stop took %v, exit code %s; want under 2s and 143 (TERM reached the command)", took, code)
		}
	} else if took < grace*time.Second || code != "137" {
		// Without init the command is PID 1, which the kernel shields from
		// TERM it does not handle: only the KILL after the grace period stops
		// it. This is why the entrypoint should use init mode.
		t.Errorf("podman stop took %v, exit code %s; without init mode want the %ds grace and 137", took, code, grace)
	}
	t.Logf("TestImage took %v in all", time.Since(start).Round(time.Millisecond))
}

// checkImageFiles saves the image and requires exactly one layer holding
// exactly one file, /gosu, mode 0755, with the bytes of the release asset.
func checkImageFiles(t *testing.T, p *podman, image, asset string) {
	t.Helper()
	archive := t.TempDir() + "/image.tar"
	p.run(t, "save", "--format", "docker-archive", "-o", archive, image)
	files := readTar(t, archive)
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("image archive manifest.json: %v", err)
	}
	if len(manifest[0].Layers) != 1 {
		t.Fatalf("the gosu image has layers %v, want one", manifest[0].Layers)
	}
	layer := files[manifest[0].Layers[0]]
	want, err := os.ReadFile(asset)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(layer))
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "gosu" {
			data, _ := io.ReadAll(tr)
			if !bytes.Equal(data, want) || h.Mode&0o7777 != 0o755 || h.Uid != 0 || h.Gid != 0 {
				t.Errorf("/gosu in the image: %d bytes, mode %o, owner %d:%d; want the release asset (%d bytes), 0755, 0:0",
					len(data), h.Mode, h.Uid, h.Gid, len(want))
			}
		}
	}
	if len(names) != 1 || names[0] != "gosu" {
		t.Errorf("the gosu image's layer holds %q, want only gosu", names)
	}
}

// readTar reads a (small) tar archive into memory: name -> contents.
func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

// parseStatus reads "Key:<tab>value" lines, values' fields joined by one space.
func parseStatus(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

func lstat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}
