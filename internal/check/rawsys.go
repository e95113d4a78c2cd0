package check

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls a TCP_CHECK makes on its nonblocking socket (socket,
// connect, epoll_ctl, getsockopt, close) never sleep, so they go straight
// to the kernel instead of through the Go runtime's system-call
// bookkeeping. With that bookkeeping, any call the scheduler sees last
// longer than 20 µs (a loopback connect does the whole handshake inside
// the call, ~1 ms under emulation) makes it hand the loop's processor to
// another thread and wake that thread, and keeps its monitor polling every
// 20 µs: at 10,000 checks a second that is futex and nanosleep traffic
// larger than the checks themselves. epoll_wait, which does sleep, keeps
// the ordinary path.

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawSocket(family int) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// rawConnect starts connecting fd to ap (IPv4, IPv4-mapped or IPv6); 0
// when connected at once.
func rawConnect(fd int, ap netip.AddrPort) unix.Errno {
	port := ap.Port()
	if a := ap.Addr(); a.Is4() || a.Is4In6() {
		sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4)
		return e
	}
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet6)
	return e
}

// rawSoError reads and clears fd's pending error (SO_ERROR).
func rawSoError(fd int) (soerr int, err error) {
	var v int32
	l := uint32(4)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	return int(v), errnoErr(e)
}

func rawEpollAdd(epfd, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), unix.EPOLL_CTL_ADD, uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

// rawClose closes fd; a close of a socket without data to flush does not
// sleep (TCP_CHECK sets no SO_LINGER).
func rawClose(fd int) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}
