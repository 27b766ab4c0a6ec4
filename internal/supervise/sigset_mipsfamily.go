//go:build linux && (mips || mipsle || mips64 || mips64le)

package supervise

// sigsetSize is the kernel's sigset_t in bytes, which rt_sigaction(2) must
// be given: mips has 128 signals.
const sigsetSize = 16
