//go:build linux && (mips || mipsle || mips64 || mips64le)

package supervise

// sigsetSize is the kernel's sigset_t in bytes, which rt_sigaction(2) must
// be given: mips has 128 signals.
const (
	sigsetSize = 16
	nsig       = 128
)

// sigaction holds mips's struct sigaction for rt_sigaction(2): the flags
// come first, then the handler, then the 16-byte mask.
type sigaction struct {
	flags   uint32
	handler uintptr
	mask    [2]uint64
}
