package readerat

import (
	"io"
	"sync"
)

// New returns an io.ReaderAt over rs: rs itself when it is one (the agent's
// buffers are), else an adapter that serialises Seek+Read.
func New(rs io.ReadSeeker) io.ReaderAt {
	if ra, ok := rs.(io.ReaderAt); ok {
		return ra
	}
	return &seekReaderAt{rs: rs}
}

// seekReaderAt serialises ReadAt over a ReadSeeker that is not an
// io.ReaderAt.
type seekReaderAt struct {
	mu sync.Mutex
	rs io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.rs, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF // io.ReaderAt's convention for a short read at the end
	}
	return n, err
}
