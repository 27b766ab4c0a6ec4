//go:build linux && !(mips || mipsle || mips64 || mips64le)

package supervise

// sigsetSize is the kernel's sigset_t in bytes, which rt_sigaction(2) must
// be given; nsig is the highest signal number.
const (
	sigsetSize = 8
	nsig       = 64
)

// sigaction holds the kernel's struct sigaction for rt_sigaction(2): the
// handler first, then the flags (the restorer is missing on riscv64 and
// loong64, where the mask comes third; every use below sets only the
// handler, or puts back what the kernel wrote, byte for byte). Its size is
// at least the kernel's.
type sigaction struct {
	handler  uintptr
	flags    uintptr
	restorer uintptr
	mask     [2]uint64
}
