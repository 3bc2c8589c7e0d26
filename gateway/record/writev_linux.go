package record

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// iovMax is Linux's limit on iovecs in one writev.
const iovMax = 1024

// writeParts writes bufs to f in one writev, so a part reaches the file
// in one system call without being copied together first. More pieces
// than one call takes are joined (rare: a part of ~250 samples fits).
func writeParts(f *os.File, bufs [][]byte) (int, error) {
	if len(bufs) > iovMax {
		return f.Write(join(bufs))
	}
	iov := make([]syscall.Iovec, 0, len(bufs))
	total := 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
		total += len(b)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	written := 0
	var werr error
	for written < total && werr == nil {
		var n uintptr
		var errno syscall.Errno
		if cerr := rc.Write(func(fd uintptr) bool {
			n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			return errno != syscall.EAGAIN
		}); cerr != nil {
			return written, cerr
		}
		if errno != 0 {
			werr = &os.PathError{Op: "writev", Path: f.Name(), Err: errno}
			break
		}
		if n == 0 {
			werr = io.ErrShortWrite
			break
		}
		written += int(n)
		iov = advance(iov, int(n))
	}
	return written, werr
}

// advance drops n written bytes from the front of iov.
func advance(iov []syscall.Iovec, n int) []syscall.Iovec {
	for len(iov) > 0 && n >= int(iov[0].Len) {
		n -= int(iov[0].Len)
		iov = iov[1:]
	}
	if len(iov) > 0 && n > 0 {
		iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), n))
		iov[0].SetLen(int(iov[0].Len) - n)
	}
	return iov
}
