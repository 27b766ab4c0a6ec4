// Package account reads /etc/passwd and /etc/group strictly and as a stream.
//
// It is ours on purpose. The parser upstream gosu uses (moby/sys/user) turns a
// missing, empty or non-numeric uid/gid field into 0, so a single damaged line
// such as "app:x:oops:..." or a bare "app" makes "gosu app" run as root, and it
// reads "#comment" lines as users. Here a line must have exactly the fields
// passwd(5)/group(5) define, ids must be decimal and in range, and a line that
// is not well formed is never a match. Files are read line by line: a lookup
// by user stops at the first match, and no file is ever held in memory whole.
//
// The files are whatever the image or a bind mount put there, so reading
// them is bounded too: only regular files are opened (a FIFO would block,
// /dev/zero never end), a line may be at most MaxLine bytes, and one "\r"
// before the newline is a line ending (DOS-edited files), as upstream, which
// trims every line. A file that is missing or may not be read is empty, as
// upstream; a lookup by name then says which file could not be read.
package account

import "errors"

// MaxID is the largest id accepted anywhere. 4294967295 is (uid_t)-1, which
// setresuid(2) and friends read as "leave unchanged", so it is never an id.
const MaxID = 1<<32 - 2

var (
	// ErrNotDecimal means the text is not a decimal number (so, in a user
	// spec, it is a name).
	ErrNotDecimal = errors.New("not a decimal number")
	// ErrRange means the text is a number, but not one usable as an id.
	ErrRange = errors.New("uids and gids must be in range 0-4294967294")
)

// ParseID parses a decimal uid or gid in 0..MaxID. Leading zeros are fine.
// A number with a sign or beyond MaxID gives ErrRange (never a wrapped or
// clamped value: su-exec 0.3 turns 4294967296 into root); anything else that
// is not made only of digits gives ErrNotDecimal.
func ParseID(s string) (uint32, error) {
	digits := s
	if len(s) > 1 && (s[0] == '+' || s[0] == '-') {
		digits = s[1:]
	}
	if len(digits) == 0 {
		return 0, ErrNotDecimal
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, ErrNotDecimal
		}
		if n <= MaxID { // stop growing once out of range; keep checking digits
			n = n*10 + uint64(c-'0')
		}
	}
	if len(digits) != len(s) || n > MaxID {
		return 0, ErrRange
	}
	return uint32(n), nil
}
