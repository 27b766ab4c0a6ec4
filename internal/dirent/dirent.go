// Package dirent reads the records getdents64(2) fills a buffer with: the
// one parser of struct linux_dirent64, for the ownership walk and for the
// numbered lists of /proc (package fds).
package dirent

import (
	"bytes"
	"unsafe"
)

// struct linux_dirent64 (include/linux/dirent.h): d_ino u64, d_off s64,
// d_reclen u16, d_type u8, then the name, NUL-terminated and padded so that
// d_reclen is a multiple of 8. The kernel writes the numbers in the
// machine's own byte order, and each record starts 8-aligned in a buffer
// that does, so d_reclen is read in place.
const (
	reclenAt = 16
	typeAt   = 18
	nameAt   = 19
)

// Records is the part of a getdents64 buffer not read yet.
type Records []byte

// Next returns the next entry other than "." and "..": its name, still
// NUL-terminated and pointing into the buffer (no copy, no allocation: the
// name can be handed to a system call as it is), and its d_type
// (DT_UNKNOWN where the file system does not tell). ok is false at the end
// of the records. A record whose length does not fit ends the records; one
// without a NUL in its name is passed over.
func (r *Records) Next() (name []byte, typ uint8, ok bool) {
	for b := *r; len(b) > nameAt; b = *r {
		reclen := int(*(*uint16)(unsafe.Pointer(&b[reclenAt])))
		if reclen <= nameAt || reclen > len(b) {
			break
		}
		*r = b[reclen:]
		name = b[nameAt:reclen]
		end := bytes.IndexByte(name, 0)
		if end <= 0 || name[0] == '.' && (end == 1 || end == 2 && name[1] == '.') {
			continue
		}
		return name[:end+1], b[typeAt], true
	}
	*r = nil
	return nil, 0, false
}
