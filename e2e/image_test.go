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
	bin, store string
	global     []string
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
	p.store = store
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
	want := version + " (" + releaseToolchain(t) + " on linux/" + runtime.GOARCH + "; gc)\n"
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

// env is the environment that makes podman, run by a script, use this
// store and podman's settings here: the private store of the podman flags
// above, as storage.conf and containers.conf.
func (p *podman) env(t *testing.T) []string {
	t.Helper()
	storage := p.store + "/storage.conf"
	conf := p.store + "/containers.conf"
	writeFiles(t, p.store, map[string]string{
		"storage.conf":    "[storage]\ndriver = \"overlay\"\ngraphroot = \"" + p.store + "/root\"\nrunroot = \"" + p.store + "/run\"\n",
		"containers.conf": "[engine]\nevents_logger = \"none\"\ntmp_dir = \"" + p.store + "/tmp\"\n",
	})
	return append(os.Environ(), "CONTAINERS_STORAGE_CONF="+storage, "CONTAINERS_CONF="+conf, "TMPDIR="+p.store)
}

// TestImageReproducible builds the multi-architecture image of the full
// release twice with scripts/image.sh, each time in a new private store, and
// requires the same image IDs and the same manifest list; each image says
// its architecture (and variant) as the manifest list does, and the amd64
// one runs.
func TestImageReproducible(t *testing.T) {
	dir := release(t)
	repo := repoRoot(t)
	dependOnFiles(t, repo, "scripts/image.sh", "Dockerfile")
	version := strings.TrimPrefix(moduleVersion(t, dir+"/gosu-amd64"), "v")
	tag := "localhost/gosu-image-e2e-" + strconv.Itoa(os.Getpid()) + ":" + version
	var ids [2]string
	var lists [2]string
	var first *podman
	for i := range ids {
		p := newPodman(t)
		cmd := exec.Command("bash", repo+"/scripts/image.sh", dir, tag)
		cmd.Env = p.env(t)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scripts/image.sh: %v\n%s", err, stderr.String())
		}
		t.Logf("scripts/image.sh (run %d) took %v:\n%s", i+1, time.Since(start).Round(time.Millisecond), out)
		ids[i], lists[i] = string(out), p.run(t, "manifest", "inspect", tag)
		if i == 0 {
			first = p
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("two builds from the same release gave different images:\n%s\n%s", ids[0], ids[1])
	}
	if lists[0] != lists[1] {
		t.Errorf("two builds from the same release gave different manifest lists:\n%s\n%s", lists[0], lists[1])
	}
	lines := strings.Split(strings.TrimSuffix(ids[0], "\n"), "\n")
	if len(lines) != len(assets) || !strings.HasPrefix(lines[len(lines)-1], "amd64 ") {
		t.Errorf("scripts/image.sh printed %q, want one line per asset, amd64 last", lines)
	}

	// Every image's platform, and the manifest list's entry for it.
	var list struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture, OS, Variant string }
		}
	}
	if err := json.Unmarshal([]byte(lists[0]), &list); err != nil {
		t.Fatal(err)
	}
	inList := map[string]string{}
	for _, m := range list.Manifests {
		inList[m.Platform.OS+"/"+m.Platform.Architecture+"/"+m.Platform.Variant] = m.Digest
	}
	for _, a := range assets {
		variant := ""
		if a.goarm != "" {
			variant = "v" + a.goarm
		} else if a.goarch == "arm64" {
			variant = "v8"
		}
		var img []struct{ Id, Digest string }
		if err := json.Unmarshal([]byte(first.run(t, "image", "inspect", tag+"-"+a.name)), &img); err != nil || len(img) != 1 {
			t.Fatalf("podman image inspect %s-%s: %v", tag, a.name, err)
		}
		// The config itself: podman 4.3's inspect shows no variant.
		cfg := imageConfig(t, first, tag+"-"+a.name)
		if cfg.OS != "linux" || cfg.Architecture != a.goarch || cfg.Variant != variant {
			t.Errorf("image %s-%s is %s/%s/%s, want linux/%s/%s", tag, a.name, cfg.OS, cfg.Architecture, cfg.Variant, a.goarch, variant)
		}
		if d := inList["linux/"+a.goarch+"/"+variant]; d == "" || d != img[0].Digest {
			t.Errorf("the manifest list has %q for linux/%s/%s, the image's digest is %s", d, a.goarch, variant, img[0].Digest)
		}
		if !strings.Contains(ids[0], a.name+" "+img[0].Id+"\n") {
			t.Errorf("scripts/image.sh did not print %s %s", a.name, img[0].Id)
		}
		if l := cfg.Config.Labels; l["org.opencontainers.image.version"] != version || l["org.opencontainers.image.revision"] != headCommit(t, repo) {
			t.Errorf("image %s-%s labels %v", tag, a.name, l)
		}
	}
	if len(list.Manifests) != len(assets) {
		t.Errorf("the manifest list has %d entries, want %d", len(list.Manifests), len(assets))
	}
	checkImageFiles(t, first, tag+"-s390x", dir+"/gosu-s390x")
	want := version + " (" + releaseToolchain(t) + " on linux/amd64; gc)\n"
	if runtime.GOARCH == "amd64" {
		if out := first.run(t, append(append([]string{"run", "--rm"}, runFlags...), tag+"-amd64", "--version")...); out != want {
			t.Errorf("podman run %s-amd64 --version: %q, want %q", tag, out, want)
		}
	}
}

// imageConfig is an image's configuration, from the image as podman saves it.
type imageConfigJSON struct {
	OS, Architecture, Variant string
	Config                    struct{ Labels map[string]string }
}

func imageConfig(t *testing.T, p *podman, image string) imageConfigJSON {
	t.Helper()
	archive := t.TempDir() + "/image.tar"
	p.run(t, "save", "--format", "docker-archive", "-o", archive, image)
	files := readTar(t, archive)
	var manifest []struct{ Config string }
	var cfg imageConfigJSON
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v", image, err)
	}
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("%s: %s: %v", image, manifest[0].Config, err)
	}
	return cfg
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
