package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The files lvsd writes as root (the state directory, the pid file, the
// control socket) are written so that nobody else can redirect or reuse
// them (keepalived's CVE-2011-1784 was a pid file written through a
// symbolic link): links are never followed, a file that is replaced is
// replaced by a rename, and a directory someone else could write in is
// refused rather than trusted.

// trustedOwner says whether uid may own lvsd's files and directories:
// root, or the user lvsd runs as.
func trustedOwner(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// prepareStateDir creates dir (mode 0700) if it is missing, and otherwise
// requires a directory (not a symbolic link) owned by root that neither
// group nor others can write: the IPVS ownership file and the control
// socket in it are trusted.
func prepareStateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err == nil {
		// Mkdir applies the umask: make the mode exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state directory %s: %w", dir, err)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("state directory %s: %w", dir, err)
		}
		return prepareStateDir(dir)
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("state directory %s is a symbolic link; give the directory itself", dir)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("state directory %s is not a directory", dir)
	case !trustedOwner(st.Uid):
		return fmt.Errorf("state directory %s is owned by uid %d, not root; fix with: chown root %s", dir, st.Uid, dir)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("state directory %s (mode %04o) is writable by group or others; fix with: chmod go-w %s", dir, st.Mode&0o7777, dir)
	}
	return nil
}

// checkParentDir requires the directory a pid file or socket is put in
// to be root's and not writable by others, unless it has the sticky bit
// (as /tmp), where others cannot remove or rename what lvsd puts there.
func checkParentDir(what, dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("%s directory %s: %w", what, dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s directory %s is not a directory", what, dir)
	case !trustedOwner(st.Uid):
		return fmt.Errorf("%s directory %s is owned by uid %d, not root", what, dir, st.Uid)
	case st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0:
		return fmt.Errorf("%s directory %s (mode %04o) is writable by group or others without the sticky bit", what, dir, st.Mode&0o7777)
	}
	return nil
}

// pidFile is the pid file this process wrote; remove deletes it only if
// it is still that file.
type pidFile struct {
	path     string
	dev, ino uint64
}

// errLvsdRunning is the refusal to start over a live lvsd's pid file.
var errLvsdRunning = errors.New("lvsd is already running")

// writePIDFile writes this process's pid to path, as keepalived's
// pidfile_write and keepalived_running do, made safe:
//
//   - a symbolic link or anything but a regular file at path is an error,
//     left as it is;
//   - a pid file owned by root, writable only by root, that names a live
//     lvsd (another process with this one's command) is an error: lvsd
//     is already running (keepalived refuses to start in the same way);
//   - any other file there (stale: a dead process, a process that is not
//     lvsd, garbage; or untrusted: another owner, or writable by group or
//     others, whose contents are not read) is replaced;
//
// and the file is written without ever opening an existing one: a new
// file with a unique name, created exclusively without following links,
// mode 0644, synced, then renamed over path.
func writePIDFile(path string, log *slog.Logger) (*pidFile, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if err := checkParentDir("pid file", dir); err != nil {
		return nil, err
	}
	if err := checkExistingPIDFile(path, log); err != nil {
		return nil, err
	}
	self := os.Getpid()
	var tmp string
	var fd int
	for i := 0; ; i++ {
		tmp = filepath.Join(dir, fmt.Sprintf(".%s.%d.%d", base, self, i))
		var err error
		fd, err = unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) || i == 100 {
			return nil, fmt.Errorf("pid file %s: %w", path, err)
		}
	}
	f := os.NewFile(uintptr(fd), tmp)
	fail := func(err error) (*pidFile, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	// The umask may have taken bits off; 0644 is what keepalived writes.
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if _, err := f.WriteString(strconv.Itoa(self) + "\n"); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	syncDir(dir)
	return &pidFile{path: path, dev: st.Dev, ino: st.Ino}, nil
}

// checkExistingPIDFile looks at what is at path before it is replaced.
func checkExistingPIDFile(path string, log *slog.Logger) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFLNK:
		return fmt.Errorf("pid file %s is a symbolic link; lvsd does not write through links (remove it, or give another -p)", path)
	default:
		return fmt.Errorf("pid file %s exists and is %s, not a regular file", path, fileKind(st.Mode))
	}
	pid, err := ReadPIDFile(path)
	switch {
	case errors.Is(err, ErrUntrustedPIDFile):
		log.Warn("replacing a pid file that is not root's or is writable by others; its contents are not trusted", "path", path, "err", err)
	case err != nil:
		log.Info("replacing an unreadable pid file", "path", path, "err", err)
	case pid == os.Getpid():
		// A pid file from before a restart that gave this process the
		// same pid (pid 1 in a container).
	case isLvsd(pid):
		return fmt.Errorf("%w (pid %d, pid file %s)", errLvsdRunning, pid, path)
	default:
		log.Info("replacing a stale pid file", "path", path, "pid", pid)
	}
	return nil
}

// ErrUntrustedPIDFile: the pid file is not one lvsd could have written
// (another owner than root, or writable by group or others), so anyone
// may have put any pid in it.
var ErrUntrustedPIDFile = errors.New("pid file not trusted")

// ReadPIDFile reads the pid in a pid file lvsd wrote: a regular file, not
// a symbolic link, owned by root (or the user lvsd runs as) and writable
// by nobody else. It is what `lvsd stop -p` signals, so a file anyone
// else could have written is an error wrapping ErrUntrustedPIDFile.
func ReadPIDFile(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return 0, fmt.Errorf("%s is a symbolic link: %w", path, ErrUntrustedPIDFile)
	}
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return 0, fmt.Errorf("%s is %s: %w", path, fileKind(st.Mode), ErrUntrustedPIDFile)
	case !trustedOwner(st.Uid):
		return 0, fmt.Errorf("%s is owned by uid %d, not root: %w", path, st.Uid, ErrUntrustedPIDFile)
	case st.Mode&0o022 != 0:
		return 0, fmt.Errorf("%s (mode %04o) is writable by group or others: %w", path, st.Mode&0o7777, ErrUntrustedPIDFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s: no pid in it", path)
	}
	return pid, nil
}

// isLvsd says whether pid is a live process running the same program as
// this one (by its command name, which survives an upgrade of the binary).
func isLvsd(pid int) bool {
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	theirs, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		// Gone since, or /proc not mounted: alive is all that is known,
		// and keepalived refuses on that alone.
		return !errors.Is(err, fs.ErrNotExist) || !procMounted()
	}
	ours, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		return true
	}
	return bytes.Equal(theirs, ours)
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/comm")
	return err == nil
}

// remove deletes the pid file if it is still the one written.
func (p *pidFile) remove() {
	if p == nil {
		return
	}
	if sameFile(p.path, p.dev, p.ino) {
		_ = os.Remove(p.path)
	}
}

// syncDir makes a rename in dir durable; a failure only loses that.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// socketAt reports what is at a control socket's path: nothing (false,
// nil), a socket (true, nil), or an error for anything else, which is
// not lvsd's to remove.
func socketAt(path string) (bool, error) {
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("control socket %s: %w", path, err)
	case st.Mode&unix.S_IFMT != unix.S_IFSOCK:
		return false, fmt.Errorf("control socket %s: something that is not a socket is there (%s); lvsd does not remove it",
			path, fileKind(st.Mode))
	}
	return true, nil
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a fifo"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "mode " + strconv.FormatUint(uint64(mode), 8)
}

// sameFile says whether path is still the file identified by dev and ino.
func sameFile(path string, dev, ino uint64) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Dev == dev && st.Ino == ino
}
