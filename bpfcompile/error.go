package bpfcompile

import (
	"errors"
	"fmt"
)

// Pos is a position in a filter expression: a byte offset and the 1-based
// line and column (in bytes) it falls on.
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// String formats the position as "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a compile error: the position in the expression where it was
// found and what is wrong there. Messages keep libpcap's wording where
// libpcap has a fixed phrase, so users searching for it find it.
type Error struct {
	Pos Pos
	Msg string
	// Err is the sentinel this error is an instance of (ErrTooLong,
	// ErrRejectsAll, ErrUnknownLinkType), nil for other errors.
	// errors.Is sees it through Unwrap.
	Err error
}

// Error formats the error as "bpf: line:col: msg".
func (e *Error) Error() string { return "bpf: " + e.Pos.String() + ": " + e.Msg }

// Unwrap returns Err, so errors.Is(err, ErrTooLong) holds for an *Error
// that reports a program too long.
func (e *Error) Unwrap() error { return e.Err }

// ErrRejectsAll is wrapped by the error Compile returns when the optimized
// program rejects every packet.
var ErrRejectsAll = errors.New("expression rejects all packets")

// ErrTooLong is wrapped by the error Compile returns when the program is
// longer than the kernel accepts.
var ErrTooLong = errors.New("program too long")

// posAt computes the Pos of byte offset off in src.
func posAt(src string, off int) Pos {
	if off > len(src) {
		off = len(src)
	}
	if off < 0 {
		off = 0
	}
	line, col := 1, 1
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return Pos{Offset: off, Line: line, Col: col}
}

// bailout carries an *Error through panics inside the parser and the code
// generator; only this type is recovered, never a runtime.Error.
type bailout struct{ err *Error }
