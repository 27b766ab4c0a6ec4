package e2e

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recipes are INSTALL.md's code blocks, by the name of the
// "<!-- test: NAME -->" comment before each.
func recipes(t *testing.T) map[string]string {
	t.Helper()
	doc := string(readFile(t, "../INSTALL.md"))
	blocks := map[string]string{}
	re := regexp.MustCompile("(?s)<!-- test: ([a-z]+) -->\n```[a-z]*\n(.*?)```\n")
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		blocks[m[1]] = m[2]
	}
	for _, name := range []string{"settings", "binary", "debian", "rhel", "alpine", "image"} {
		if blocks[name] == "" {
			t.Fatalf("INSTALL.md has no recipe %q", name)
		}
	}
	return blocks
}

// The tagged release: HEAD in a throwaway clone, with CHANGELOG.md's newest
// section dated and tagged as it says (v1.20.0 ...), for this machine's
// architecture, signed with the release's throwaway key. Built once a run.
var (
	taggedOnce    sync.Once
	taggedDir     string
	taggedVersion string
	taggedErr     error
)

func taggedRelease(t *testing.T) (dir, version string) {
	t.Helper()
	release(t) // the key
	repo := repoRoot(t)
	taggedOnce.Do(func() {
		clone := bin + "/tagged-repo"
		git := func(args ...string) error {
			out, err := exec.Command("git", append([]string{"-C", clone, "-c", "user.name=test", "-c", "user.email=test@example.invalid"}, args...)...).CombinedOutput()
			if err != nil {
				return errors.New("git " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
			}
			return nil
		}
		if out, err := exec.Command("git", "clone", "-q", "--upload-pack=git -c 'safe.directory=*' upload-pack", repo, clone).CombinedOutput(); err != nil {
			taggedErr = errors.New("git clone: " + err.Error() + "\n" + string(out))
			return
		}
		changelog, err := os.ReadFile(clone + "/CHANGELOG.md")
		if err != nil {
			taggedErr = err
			return
		}
		m := regexp.MustCompile(`(?m)^## ([0-9]+\.[0-9]+\.[0-9]+) \(unreleased\)$`).FindSubmatchIndex(changelog)
		if m == nil {
			taggedErr = errors.New(`CHANGELOG.md's has no "## X.Y.Z (unreleased)" section to release`)
			return
		}
		taggedVersion = string(changelog[m[2]:m[3]])
		changelog = append(changelog[:m[3]], append([]byte(" ("+time.Now().UTC().Format("2006-01-02")+")"), changelog[m[1]:]...)...)
		if taggedErr = os.WriteFile(clone+"/CHANGELOG.md", changelog, 0o644); taggedErr != nil {
			return
		}
		if taggedErr = git("commit", "-q", "-am", "Release "+taggedVersion); taggedErr != nil {
			return
		}
		if taggedErr = git("tag", "v"+taggedVersion); taggedErr != nil {
			return
		}
		taggedDir = bin + "/tagged-release"
		home := bin + "/gnupg"
		_, taggedErr = releaseScript(t, []string{"GNUPGHOME=" + home}, "-C", clone, "-k", releaseKey, taggedDir, hostAsset(t))
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
	})
	if taggedErr != nil {
		t.Fatalf("the tagged release: %v", taggedErr)
	}
	return taggedDir, taggedVersion
}

// keyServer serves the release's public key over HKP on 127.0.0.1, as a key
// server does for `gpg --keyserver hkp://... --recv-keys FINGERPRINT`, and
// counts the lookups.
func keyServer(t *testing.T) (url string, lookups func() int) {
	t.Helper()
	key := readFile(t, releasePubKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pks/lookup" || r.URL.Query().Get("op") != "get" || !strings.EqualFold(r.URL.Query().Get("search"), "0x"+releaseKey) {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/pgp-keys")
		w.Write(key)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "hkp://" + ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestInstall runs INSTALL.md's recipes as written, but for the settings:
// the release is a tagged one built here and served from a file:// URL, its
// key is the test's, served by a key server on 127.0.0.1. Each recipe runs
// on a fresh Debian system (an overlay of this machine's root); for Alpine
// only the download and the checks can run here (no apk), so its recipe
// stops before `apk add`, with `apk --print-arch` answered for this machine.
// The image recipe builds with podman (TestInstallImage).
func TestInstall(t *testing.T) {
	dir, version := taggedRelease(t)
	blocks := recipes(t)
	url, lookups := keyServer(t)
	apkArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}[runtime.GOARCH]
	settings := "GOSU_VERSION=" + version + "\nGOSU_URL=file:///tmp/" + filepath.Base(dir) + "\nGOSU_KEY=" + releaseKey + "\nGOSU_KEYSERVER=" + url + "\n"
	for _, name := range []string{"binary", "debian", "rhel", "alpine"} {
		t.Run(name, func(t *testing.T) {
			recipe := blocks[name]
			if name == "alpine" {
				i := strings.Index(recipe, "\napk add ")
				if i < 0 {
					t.Fatal("the Alpine recipe has no apk add line")
				}
				recipe = "apk() { [ \"$1\" = --print-arch ] && echo " + apkArch + "; }\n" + recipe[:i+1]
			}
			script := filepath.Join(t.TempDir(), "recipe.sh")
			if err := os.WriteFile(script, []byte(settings+recipe), 0o755); err != nil {
				t.Fatal(err)
			}
			before := lookups()
			start := time.Now()
			out := overlayScript(t, `
status=0
inside bash /tmp/recipe.sh || status=$?
# A failed recipe may leave its gpg-agent or dirmngr behind.
inside sh -c 'for d in /tmp/tmp.*; do [ -d "$d" ] && gpgconf --homedir "$d" --kill all; done; true'
echo "== status $status"
`, script, dir)
			t.Logf("INSTALL.md %s took %v:\n%s", name, time.Since(start).Round(time.Millisecond), out)
			if !strings.Contains(out, "\n== status 0\n") {
				t.Fatalf("INSTALL.md's %s recipe failed", name)
			}
			if lookups() != before+1 {
				t.Errorf("the recipe fetched the key %d times from the key server, want once", lookups()-before)
			}
			if !strings.Contains(out, `gpg: Good signature from "gosu e2e release test <release-test@example.invalid>"`) {
				t.Errorf("no good signature in the %s recipe's output", name)
			}
			wantVersion := version + " (" + releaseToolchain(t) + " on linux/" + runtime.GOARCH + "; gc)\n"
			switch name {
			case "alpine":
				if !strings.Contains(out, ".apk: OK\n") {
					t.Errorf("sha256sum -c did not check the .apk")
				}
			case "debian":
				if !strings.Contains(out, "\nUnpacking gosu (1:"+version+") over (") || !strings.Contains(out, ".deb: OK\n") {
					t.Errorf("apt-get did not install the checked .deb over Debian's gosu")
				}
				fallthrough
			default:
				if !strings.Contains(out, "\n"+wantVersion) || !strings.Contains(out, "\n+ gosu nobody true\n") {
					t.Errorf("the recipe did not end with gosu --version (%q) and gosu nobody true", wantVersion)
				}
			}
		})
	}
}

// TestInstallImage builds INSTALL.md's image recipe with podman: the
// release's image from scripts/image.sh in place of the published one, and a
// local busybox image in place of debian:bookworm-slim (no registry here).
// Its RUN line, gosu --version and gosu nobody true, runs in the build.
func TestInstallImage(t *testing.T) {
	dir, version := taggedRelease(t)
	recipe := recipes(t)["image"]
	p := newPodman(t)
	repo := repoRoot(t)
	busybox := needTool(t, "busybox", "busybox-static")
	suffix := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + time.Now().Format("150405")
	gosuImage := "localhost/gosu-install-e2e-" + suffix + ":" + version
	base := "localhost/gosu-install-base-e2e-" + suffix

	cmd := exec.Command("bash", repo+"/scripts/image.sh", dir, gosuImage)
	cmd.Env = p.env(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	// The base: busybox as /bin/sh and /bin/true, and the accounts.
	ctx := t.TempDir()
	for _, d := range []string{"/bin", "/etc"} {
		if err := os.Mkdir(ctx+d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, ctx, map[string]string{
		"Containerfile": "FROM scratch\nCOPY bin /bin/\nCOPY etc /etc/\n",
		"etc/passwd":    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
		"etc/group":     "root:x:0:\nnogroup:x:65534:\n",
	})
	copyFile(t, busybox, ctx+"/bin/busybox")
	for _, applet := range []string{"sh", "true"} {
		if err := os.Symlink("busybox", ctx+"/bin/"+applet); err != nil {
			t.Fatal(err)
		}
	}
	build := []string{"build", "--pull=never", "--layers=false", "--network=none", "--runtime", "runc",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}
	p.run(t, append(build, "-f", ctx+"/Containerfile", "-t", base, ctx)...)

	// INSTALL.md's recipe, with the two images replaced.
	from := regexp.MustCompile(`(?m)^FROM \S+$`)
	copyFrom := regexp.MustCompile(`--from=\S+`)
	if len(from.FindAllString(recipe, -1)) != 1 || len(copyFrom.FindAllString(recipe, -1)) != 1 {
		t.Fatalf("the image recipe should have one FROM and one COPY --from:\n%s", recipe)
	}
	recipe = from.ReplaceAllString(recipe, "FROM "+base)
	recipe = copyFrom.ReplaceAllString(recipe, "--from="+gosuImage)
	writeFiles(t, ctx, map[string]string{"Containerfile": recipe})
	var stdout, stderr bytes.Buffer
	c := p.cmd(append(build, "-f", ctx+"/Containerfile", "-t", base+"-app", ctx)...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("podman build of INSTALL.md's image recipe: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("INSTALL.md's image recipe:\n%s\n%s", recipe, stdout.String())
	if want := version + " (" + releaseToolchain(t) + " on linux/" + runtime.GOARCH + "; gc)\n"; !strings.Contains(stdout.String(), want) {
		t.Errorf("the build's RUN did not print %q", want)
	}
}
