package e2e

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubeConf is the containers.conf for `podman play kube` here: play kube
// has no --runtime or --ulimit flags, and every pod needs an infra
// ("pause") container, whose default image podman 4.3 builds from
// catatonit, which Debian does not ship. So the runtime, the rlimits root
// can set without CAP_SYS_RESOURCE, and a pause image built from busybox
// come from this file.
const kubeConf = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
infra_image = "localhost/gosu-kube-pause:e2e"
events_logger = "none"
`

// kubePods are the pods of docs/kubernetes.md, run by podman play kube:
//
//   - root-entry: the container starts as root with only the capabilities
//     the entrypoint steps need; gosu fixes the volume, keeps the pod's
//     supplementalGroups and the one capability the program needs (as an
//     ambient capability of uid 1000, which a securityContext cannot give),
//     and drops the rest of the bounding set;
//   - nonroot: Kubernetes does the switch (runAsUser, runAsGroup,
//     allowPrivilegeEscalation false); gosu asked for the identity the
//     container already has is a plain exec that keeps the groups;
//   - owner: the "/PATH" user spec with --add-user runs as the owner of a
//     hostPath volume, a uid the image does not know.
const kubePods = `apiVersion: v1
kind: Pod
metadata:
  name: root-entry
spec:
  restartPolicy: Never
  securityContext:
    supplementalGroups: [3000]
  containers:
  - name: app
    image: localhost/gosu-kube-app:e2e
    command: ["gosu", "--chown=/data", "--keep-groups", "--keep-caps=net_bind_service",
              "--drop-bounding", "--no-new-privs", "app", "probe", "bind", "127.0.0.1:80"]
    securityContext:
      runAsUser: 0
      capabilities:
        drop: ["ALL"]
        add: ["CHOWN", "SETUID", "SETGID", "SETPCAP", "NET_BIND_SERVICE"]
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    hostPath: {path: VOLUME, type: Directory}
---
apiVersion: v1
kind: Pod
metadata:
  name: nonroot
spec:
  restartPolicy: Never
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    runAsNonRoot: true
    supplementalGroups: [3000]
  containers:
  - name: app
    image: localhost/gosu-kube-app:e2e
    command: ["gosu", "app", "probe"]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
---
apiVersion: v1
kind: Pod
metadata:
  name: owner
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: localhost/gosu-kube-app:e2e
    command: ["gosu", "--add-user=dev", "/workspace", "probe"]
    securityContext:
      capabilities:
        drop: ["ALL"]
        add: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"]
    volumeMounts:
    - {name: work, mountPath: /workspace}
  volumes:
  - name: work
    hostPath: {path: WORKSPACE, type: Directory}
`

// TestKubePod runs the pod-style examples of docs/kubernetes.md with
// podman play kube (offline: every image is built here from local files,
// in a private store) and checks the kernel's view of each program and the
// owners of the hostPath volume's files on the host.
func TestKubePod(t *testing.T) {
	start := time.Now()
	p := newPodman(t)
	busybox := needTool(t, "busybox", "busybox-static")
	f, err := elf.Open(busybox)
	need(t, err == nil && !hasInterp(f), "needs a static busybox (apt-get install busybox-static)")
	f.Close()
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte(kubeConf), 0o644); err != nil {
		t.Fatal(err)
	}
	kube := func(args ...string) string {
		t.Helper()
		cmd := p.cmd(args...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("podman %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	// Pods before newPodman's cleanup (which runs after this one): an infra
	// container is removed with its pod, not by `podman rm --all`.
	t.Cleanup(func() {
		cmd := p.cmd("pod", "rm", "--all", "--force", "--time", "0")
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("podman pod rm: %v\n%s", err, out)
		}
	})

	// The images: a pause container that sleeps, and the app image (busybox,
	// gosu, the probe, an account "app" with uid 1000).
	build := []string{"build", "--pull=never", "--layers=false", "--network=none"}
	pause := t.TempDir()
	copyFile(t, busybox, pause+"/sleep") // busybox runs the applet its name says
	writeFiles(t, pause, map[string]string{"Containerfile": "FROM scratch\nCOPY sleep /sleep\nENTRYPOINT [\"/sleep\", \"2147483647\"]\n"})
	kube(append(build, "-t", "localhost/gosu-kube-pause:e2e", pause)...)
	ctx := t.TempDir()
	copyFile(t, busybox, ctx+"/busybox")
	copyFile(t, bin+"/gosu", ctx+"/gosu")
	copyFile(t, bin+"/probe", ctx+"/probe")
	writeFiles(t, ctx, map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"group":  "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n",
		"Containerfile": `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY gosu probe /usr/local/bin/
COPY passwd group /etc/
RUN mkdir -p /data /workspace /home/app /tmp && chmod 1777 /tmp && chown app:app /home/app
`,
	})
	kube(append(build, "-t", "localhost/gosu-kube-app:e2e", ctx)...)

	// The hostPath volumes: one owned by root with a symbolic link to a
	// root-only host file, one owned by a host user the image lacks.
	vol := publicDir(t)
	outside := publicDir(t) + "/secret"
	writeFiles(t, vol, map[string]string{"old": "x"})
	if err := os.WriteFile(outside, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(vol+"/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, vol+"/sub/evil"); err != nil {
		t.Fatal(err)
	}
	work := publicDir(t)
	if err := os.Chown(work, 4005, 4005); err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(t.TempDir(), "pods.yaml")
	pods := strings.NewReplacer("VOLUME", vol, "WORKSPACE", work).Replace(kubePods)
	if err := os.WriteFile(yaml, []byte(pods), 0o644); err != nil {
		t.Fatal(err)
	}
	kube("play", "kube", "--network", "none", yaml)

	logs := map[string]result{}
	for _, pod := range []string{"root-entry", "nonroot", "owner"} {
		c := pod + "-app"
		code := strings.TrimSpace(kube("wait", c))
		r := result{stdout: kube("logs", c), probe: map[string]string{}}
		if code != "0" {
			t.Errorf("pod %s: exit %s, logs %q", pod, code, r.stdout)
		}
		for line := range strings.SplitSeq(r.stdout, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				r.probe[k] = v
			}
		}
		logs[pod] = r
	}
	logs["root-entry"].expect(t, "root-entry", map[string]string{
		"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "3000",
		"CapInh": netBindService, "CapPrm": netBindService, "CapEff": netBindService, "CapAmb": netBindService,
		"CapBnd": netBindService, "NoNewPrivs": "1", "bind": "ok", "env.HOME": "/home/app"})
	for _, path := range []string{"", "old", "sub", "sub/evil"} {
		if st := lstat(t, filepath.Join(vol, path)); st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("volume entry %q is owned by %d:%d after --chown, want 1000:1000", path, st.Uid, st.Gid)
		}
	}
	if st := lstat(t, outside); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("the symbolic link's target outside the volume is owned by %d:%d: --chown followed it", st.Uid, st.Gid)
	}
	logs["nonroot"].expect(t, "nonroot", map[string]string{
		"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000",
		"CapInh": noCaps, "CapPrm": noCaps, "CapEff": noCaps, "CapAmb": noCaps, "CapBnd": noCaps,
		"NoNewPrivs": "1", "env.HOME": "/home/app"})
	if g := " " + logs["nonroot"].probe["Groups"] + " "; !strings.Contains(g, " 3000 ") {
		t.Errorf("nonroot: Groups %q lost the pod's supplementalGroups 3000", g)
	}
	logs["owner"].expect(t, "owner", map[string]string{
		"Uid": "4005 4005 4005 4005", "Gid": "4005 4005 4005 4005", "Groups": "", "CapEff": noCaps, "env.HOME": "/home/dev"})
	t.Logf("TestKubePod took %v", time.Since(start).Round(time.Millisecond))
}

// writeFiles writes name -> contents into dir, mode 0644.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
