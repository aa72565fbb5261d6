package cloudshark

import (
	"io"
	"sync"
)

// seekReaderAt serialises ReadAt over a ReadSeeker, for CaptureData whose
// reader is not an io.ReaderAt.
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
