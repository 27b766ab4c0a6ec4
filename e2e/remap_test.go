package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// image is a container image made of this machine's own file system: an
// overlay of / (writes go to a directory of the test's, never to /) with
// fixture account files in its /etc and test directories bind-mounted as
// volumes, entered with chroot in a private mount namespace. Shadow's own
// tools (usermod, groupmod) run there as in a Debian image.
type image struct {
	dir, etc string            // etc: the image's /etc as written, in the upper layer
	mounts   map[string]string // path in the image -> directory standing in for it
}

func newImage(t *testing.T, files map[string]string, volumes ...string) *image {
	t.Helper()
	im := &image{dir: publicDir(t), mounts: map[string]string{}}
	im.etc = filepath.Join(im.dir, "upper", "etc")
	for _, d := range []string{im.etc, filepath.Join(im.dir, "work"), filepath.Join(im.dir, "root")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "shadow") {
			mode = 0o640
		}
		if err := os.WriteFile(filepath.Join(im.etc, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range volumes {
		im.mounts[v] = publicDir(t)
	}
	return im
}

// run runs script with sh in the image, as root: $B is busybox, $G gosu,
// $P the probe.
func (im *image) run(t *testing.T, script string) result {
	t.Helper()
	unshare := needTool(t, "unshare", "util-linux")
	busybox := needTool(t, "busybox", "busybox-static")
	root := filepath.Join(im.dir, "root")
	setup := "set -e; mount -t overlay overlay -o lowerdir=/,upperdir=" + im.dir + "/upper,workdir=" + im.dir + "/work " + root +
		"; mount -t proc proc " + root + "/proc; mount --bind /dev " + root + "/dev; "
	for dst, src := range im.mounts {
		setup += "mkdir -p " + root + dst + "; mount --bind " + src + " " + root + dst + "; "
	}
	setup += `exec chroot ` + root + ` sh -c "$0"`
	script = "set -e; B=" + busybox + "; G=" + bin + "/gosu; P=" + bin + "/probe; " + script
	return run(t, nil, unshare, "-m", "--propagation", "private", "sh", "-c", setup, script)
}

func (im *image) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(im.etc, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// owners lists "name uid:gid" for each entry of dir, without following
// links.
func owners(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var out []string
	for _, n := range names {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, n), &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, n+" "+itoa(st.Uid)+":"+itoa(st.Gid))
	}
	return strings.Join(out, ", ")
}

func itoa(n uint32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// A LinuxServer.io image: user abc (911, home /config, in users), its own
// group, and uid 1000 taken by ubuntu (Ubuntu 24.04 images).
var linuxServer = map[string]string{
	"passwd": "root:x:0:0:root:/root:/bin/bash\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n" +
		"abc:x:911:911::/config:/bin/false\n",
	"group": "root:x:0:\ndaemon:x:1:\nusers:x:100:abc\nubuntu:x:1000:\nabc:x:911:\n",
	"shadow": "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nubuntu:!:19000:0:99999:7:::\n" +
		"abc:!:19000:0:99999:7:::\n",
	"gshadow": "root:*::\ndaemon:*::\nusers:*::abc\nubuntu:!::\nabc:!::\n",
}

// configVolume fills a /config volume as a previous container left it:
// abc's files, a file of root's, a link out of the volume, and a hard link
// to a file of root's outside it.
func configVolume(t *testing.T, dir, outside string) {
	t.Helper()
	for _, f := range []struct {
		name     string
		uid, gid int
	}{{"app.db", 911, 911}, {"logs", 911, 911}, {"root.conf", 0, 0}} {
		p := filepath.Join(dir, f.name)
		if f.name == "logs" {
			os.Mkdir(p, 0o755)
		} else {
			os.WriteFile(p, []byte("x\n"), 0o644)
		}
		if err := os.Lchown(p, f.uid, f.gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(dir, "link"))
	os.Lchown(filepath.Join(dir, "link"), 911, 911)
	if err := os.Link(outside, filepath.Join(dir, "hardlink")); err != nil {
		t.Fatal(err)
	}
	os.Chown(dir, 911, 911)
}

// TestLinuxServerPattern runs LinuxServer.io's PUID/PGID entrypoint as the
// images do it (groupmod -o, usermod -o, chown -R), then as
// `exec gosu --remap-user=abc "$PUID:$PGID" "$@"`, on the same image and
// volume, and pins what docs/entrypoints.md quotes.
func TestLinuxServerPattern(t *testing.T) {
	needRoot(t)
	usermod := needTool(t, "usermod", "passwd")
	groupmod := needTool(t, "groupmod", "passwd")

	// Before: the shell lines, with the real shadow tools.
	im := newImage(t, linuxServer, "/config")
	outside := publicDir(t) + "/secret"
	configVolume(t, im.mounts["/config"], outside)
	r := im.run(t, `PUID=1001 PGID=1001
`+groupmod+` -o -g "$PGID" abc
`+usermod+` -o -u "$PUID" abc
chown -R abc:abc /config
exec setpriv --reuid=abc --regid=abc --init-groups $P`)
	if r.code != 0 || r.probe["Uid"] != "1001 1001 1001 1001" {
		t.Fatalf("shell version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := owners(t, im.mounts["/config"], "app.db", "root.conf", "hardlink"); got != "app.db 1001:1001, root.conf 1001:1001, hardlink 1001:1001" {
		t.Errorf("shell version, /config: %s", got)
	}
	var st syscall.Stat_t
	if syscall.Stat(outside, &st); st.Uid != 1001 {
		t.Errorf("shell version: the file outside the volume is %d's; the hard link should have given it away", st.Uid)
	}

	// After: gosu, on a fresh image and volume.
	im = newImage(t, linuxServer, "/config")
	outside = publicDir(t) + "/secret"
	configVolume(t, im.mounts["/config"], outside)
	shadow := im.read(t, "shadow")
	r = im.run(t, `PUID=1001 PGID=1001; exec $G --remap-user=abc "$PUID:$PGID" $P`)
	r.expect(t, "--remap-user=abc 1001:1001", map[string]string{
		"Uid": "1001 1001 1001 1001", "Gid": "1001 1001 1001 1001", "Groups": "100", "env.HOME": "/config", "CapEff": "0000000000000000"})
	if p, g := im.read(t, "passwd"), im.read(t, "group"); !strings.Contains(p, "\nabc:x:1001:1001::/config:/bin/false\n") ||
		!strings.Contains(g, "\nabc:x:1001:\n") || strings.Contains(p+g, ":911:") {
		t.Errorf("after --remap-user:\n%s\n%s", p, g)
	}
	if im.read(t, "shadow") != shadow {
		t.Errorf("shadow was written")
	}
	if got := owners(t, im.mounts["/config"], ".", "app.db", "logs", "root.conf", "link", "hardlink"); got !=
		". 1001:1001, app.db 1001:1001, logs 1001:1001, root.conf 0:0, link 1001:1001, hardlink 0:0" {
		t.Errorf("/config after --remap-user: %s", got)
	}
	if syscall.Stat(outside, &st); st.Uid != 0 {
		t.Errorf("the file outside the volume was given to %d", st.Uid)
	}

	// A restart: the same identity, and no byte, inode or time changes.
	before := snapshot(t, im.etc)
	r = im.run(t, `exec $G --remap-user=abc 1001:1001 $P`)
	r.expect(t, "restart", map[string]string{"Uid": "1001 1001 1001 1001", "Groups": "100"})
	if after := snapshot(t, im.etc); after != before {
		t.Errorf("restart wrote /etc:\n%s\n%s", before, after)
	}

	// PGID=100: the image's users group is used, abc's own group stays.
	r = im.run(t, `exec $G --remap-user=abc 1001:100 $P`)
	r.expect(t, "1001:100", map[string]string{"Uid": "1001 1001 1001 1001", "Gid": "100 100 100 100", "Groups": "100"})

	// PUID=1000 is ubuntu's: refused, unless asked for as usermod -o.
	r = im.run(t, `exec $G --remap-user=abc 1000:1000 $P`)
	if want := "error: failed switching to '1000:1000': --remap-user: uid 1000 belongs to \"ubuntu\" (/etc/passwd:3); " +
		"--allow-duplicate-uid gives it to \"abc\" too, as usermod -o does, or remove that user from the image\n"; r.code != 1 || r.stderr != want {
		t.Errorf("uid taken: exit %d, stderr %q\nwant %q", r.code, r.stderr, want)
	}
	r = im.run(t, `exec $G --remap-user=abc --allow-duplicate-uid 1000:1000 $P`)
	r.expect(t, "--allow-duplicate-uid", map[string]string{"Uid": "1000 1000 1000 1000", "env.HOME": "/config"})
	if !strings.Contains(r.stderr, `--allow-duplicate-uid: uid 1000 stays "ubuntu"'s too`) {
		t.Errorf("no note: %q", r.stderr)
	}
}

// snapshot is every file of dir with its content, inode and times.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		var st syscall.Stat_t
		p := filepath.Join(dir, e.Name())
		syscall.Lstat(p, &st)
		content, _ := os.ReadFile(p)
		b.WriteString(e.Name() + " " + itoa(uint32(st.Ino)) + " " + itoa(uint32(st.Mtim.Nsec)) + " " + itoa(uint32(st.Ctim.Nsec)) + " " + string(content) + "\n")
	}
	return b.String()
}

// A fixuid image: user docker (1000:1000, home /home/docker), the project
// mounted at /workspace by a host user the image does not know.
var fixuidImage = map[string]string{
	"passwd": "root:x:0:0:root:/root:/bin/bash\ndocker:x:1000:1000::/home/docker:/bin/sh\n",
	"group":  "root:x:0:\ndialout:x:20:\ndocker:x:1000:\n",
	"shadow": "root:*:19000:0:99999:7:::\ndocker:!:19000:0:99999:7:::\n",
}

// TestFixuidPattern: fixuid's job (a setuid-root binary that gives docker
// the ids of `docker run -u` and re-owns its home) as
// `exec gosu --remap-user=docker /workspace "$@"`: docker gets the ids of
// the host user who owns the project, a macOS one here (501:20, where gid
// 20 is dialout in Debian), and its home follows.
func TestFixuidPattern(t *testing.T) {
	needRoot(t)
	im := newImage(t, fixuidImage, "/workspace", "/home/docker")
	ws, home := im.mounts["/workspace"], im.mounts["/home/docker"]
	os.Chown(ws, 501, 20)
	os.WriteFile(filepath.Join(home, ".profile"), []byte("x\n"), 0o644)
	os.WriteFile(filepath.Join(home, "root-owned"), nil, 0o644)
	os.Chown(home, 1000, 1000)
	os.Chown(filepath.Join(home, ".profile"), 1000, 1000)

	r := im.run(t, `$G --explain --remap-user=docker /workspace id`)
	for _, want := range []string{
		"user:          uid 501 (docker)\n",
		"chown:         /home/docker and everything under it to 501:20, the owner only where it is 1000, the group only where it is 1000\n",
		"remap user:    docker from uid 1000 gid 1000, before the switch, with locked, atomic writes:\n" +
			"               /etc/passwd: docker:x:1000:1000::/home/docker:/bin/sh -> docker:x:501:20::/home/docker:/bin/sh\n",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("--explain: exit %d, want %q in\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	if p := im.read(t, "passwd"); p != fixuidImage["passwd"] || owners(t, home, ".profile") != ".profile 1000:1000" {
		t.Errorf("--explain changed something")
	}

	r = im.run(t, `cd /workspace; exec $G --remap-user=docker /workspace $B sh -c '$B touch made-here; echo who=$($B whoami); echo home=$HOME; exec '$P`)
	r.expect(t, "--remap-user=docker /workspace", map[string]string{
		"Uid": "501 501 501 501", "Gid": "20 20 20 20", "Groups": "", "who": "docker", "env.HOME": "/home/docker"})
	if got := owners(t, home, ".", ".profile", "root-owned"); got != ". 501:20, .profile 501:20, root-owned 0:0" {
		t.Errorf("home: %s", got)
	}
	if got := owners(t, ws, ".", "made-here"); got != ". 501:20, made-here 501:20" {
		t.Errorf("workspace: %s", got)
	}
	if p, g := im.read(t, "passwd"), im.read(t, "group"); !strings.Contains(p, "\ndocker:x:501:20::/home/docker:/bin/sh\n") || g != fixuidImage["group"] {
		t.Errorf("files:\n%s\n%s", p, g)
	}

	// Not mounted: /workspace is the image's, root's: refused before
	// anything changes.
	os.Chown(ws, 0, 0)
	before := snapshot(t, im.etc)
	r = im.run(t, `exec $G --remap-user=docker /workspace $P`)
	if r.code != 1 || !strings.Contains(r.stderr, `"/workspace" is owned by root; refusing to run`) || snapshot(t, im.etc) != before {
		t.Errorf("root-owned /workspace: exit %d, stderr %q", r.code, r.stderr)
	}
}
