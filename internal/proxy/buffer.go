package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// errBodyTooLarge is returned when a buffered body passes its limit.
var errBodyTooLarge = errors.New("body exceeds the configured maximum")

// spillBuffer holds a whole body: the first memLimit bytes in memory, the
// rest in an unlinked-on-close temp file, so a large upload costs disk,
// not RAM. Buffering request bodies before a target is chosen also means a
// slow client never holds a target (nor delays its drain).
type spillBuffer struct {
	mem      []byte
	memLimit int64
	file     *os.File
	size     int64
	first    memReader // the first reader of an in-memory body, without an allocation of its own
	given    bool
}

// readBody copies r into a new buffer; max 0 means no limit.
func readBody(r io.Reader, memLimit, max int64) (*spillBuffer, error) {
	return readBodySized(r, -1, memLimit, max)
}

// readBodySized is readBody for a body whose length is known (size >= 0,
// as from Content-Length): a body that fits in memory gets its buffer in
// one allocation instead of growing to it.
//
// The copy buffer comes from the pool ReverseProxy uses: a fresh 32 KiB
// per body was three quarters of all bytes the proxy allocated with
// buffering on, and the garbage collection it caused.
func readBodySized(r io.Reader, size, memLimit, max int64) (*spillBuffer, error) {
	b := &spillBuffer{memLimit: memLimit}
	if size > 0 && size <= memLimit && (max <= 0 || size <= max) {
		// Read straight into the buffer, without a copy through chunk;
		// the loop below only sees a body longer than announced.
		b.mem = make([]byte, 0, size)
		for len(b.mem) < cap(b.mem) {
			n, err := r.Read(b.mem[len(b.mem):cap(b.mem)])
			b.mem = b.mem[:len(b.mem)+n]
			b.size += int64(n)
			if err == io.EOF {
				return b, nil
			}
			if err != nil {
				b.Close()
				return nil, err
			}
		}
	}
	chunk := copyBuffers.Get()
	defer copyBuffers.Put(chunk)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			if max > 0 && b.size+int64(n) > max {
				b.Close()
				return nil, errBodyTooLarge
			}
			if werr := b.write(chunk[:n]); werr != nil {
				b.Close()
				return nil, werr
			}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			b.Close()
			return nil, err
		}
	}
}

func (b *spillBuffer) write(p []byte) error {
	b.size += int64(len(p))
	if b.file == nil {
		room := b.memLimit - int64(len(b.mem))
		if int64(len(p)) <= room {
			b.mem = append(b.mem, p...)
			return nil
		}
		f, err := os.CreateTemp("", "ferry-proxy-body-*")
		if err != nil {
			return fmt.Errorf("create body spill file: %w", err)
		}
		// Unlink at once: the open descriptor keeps the data, and nothing
		// is left behind if the process dies.
		_ = os.Remove(f.Name())
		b.file = f
	}
	if _, err := b.file.Write(p); err != nil {
		return fmt.Errorf("write body spill file: %w", err)
	}
	return nil
}

// Len is the body size in bytes.
func (b *spillBuffer) Len() int64 { return b.size }

// spilled tells whether part of the body went to disk.
func (b *spillBuffer) spilled() bool { return b.file != nil }

// reader returns an independent reader over the whole body; each retry of
// a request gets its own.
func (b *spillBuffer) reader() io.ReadCloser {
	if b.file == nil {
		if !b.given {
			b.given = true
			b.first.data = b.mem
			return &b.first
		}
		return &memReader{data: b.mem}
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(b.mem), io.NewSectionReader(b.file, 0, b.size-int64(len(b.mem)))))
}

// memReader reads a body held in memory (one allocation, where
// io.NopCloser over a bytes.Reader took two). Its last bytes come with
// io.EOF.
type memReader struct{ data []byte }

func (m *memReader) Read(p []byte) (int, error) {
	if len(m.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.data)
	m.data = m.data[n:]
	if len(m.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (m *memReader) Close() error { return nil }

// Close frees the spill file.
func (b *spillBuffer) Close() error {
	if b.file != nil {
		err := b.file.Close()
		b.file = nil
		return err
	}
	return nil
}
