//go:build linux

package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// The hand-off's transport: batches of sockets and their states over a
// Unix stream socket. A batch is a 12-byte head (magic, count, payload
// length) sent with the batch's descriptors (SCM_RIGHTS) in one sendmsg,
// then the payload: each state length-prefixed (u32). The receiver answers
// each batch with one status byte per connection. An empty batch ends the
// hand-off. A note (SendHandoffNote) is a head with its own magic and no
// descriptors, then its bytes: what the two workers say to each other
// between batches (the subjects a batch needs, and the answer).

// HandoffBatch is the most connections in one batch: SCM_RIGHTS carries at
// most 253 descriptors per message (SCM_MAX_FD).
const HandoffBatch = 250

// maxBatchPayload bounds one batch's states, what a receiver reads before
// it has checked any of them.
const maxBatchPayload = 64 << 20

var (
	batchMagic = [4]byte{'W', 'S', 'H', 'O'}
	ackMagic   = [4]byte{'W', 'S', 'H', 'A'}
	noteMagic  = [4]byte{'W', 'S', 'H', 'N'}
)

// SendHandoffNote sends b (at most 64 MiB) as a note on uc.
func SendHandoffNote(w io.Writer, b []byte) error {
	if len(b) > maxBatchPayload {
		return fmt.Errorf("gateway: hand-off note of %d bytes", len(b))
	}
	msg := make([]byte, 12, 12+len(b))
	copy(msg, noteMagic[:])
	binary.BigEndian.PutUint32(msg[8:], uint32(len(b)))
	if _, err := w.Write(append(msg, b...)); err != nil {
		return fmt.Errorf("gateway: send hand-off note: %w", err)
	}
	return nil
}

// RecvHandoffNote reads a note from r (which carries no descriptors).
func RecvHandoffNote(r io.Reader) ([]byte, error) {
	head := make([]byte, 12)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("gateway: receive hand-off note: %w", err)
	}
	return readNote(r, head)
}

// readNote checks a note's head and reads its bytes.
func readNote(r io.Reader, head []byte) ([]byte, error) {
	size := binary.BigEndian.Uint32(head[8:])
	if [4]byte(head[:4]) != noteMagic || binary.BigEndian.Uint32(head[4:]) != 0 || size > maxBatchPayload {
		return nil, fmt.Errorf("%w: not a note", ErrHandoffState)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("gateway: receive hand-off note: %w", err)
	}
	return b, nil
}

// HandoffItem is one connection in a batch: its encoded state and its
// socket.
type HandoffItem struct {
	State []byte
	FD    int
}

// SendHandoffBatch sends items (at most HandoffBatch, states of at most
// 64 MiB together) on uc; the descriptors stay open here (the receiver
// gets its own copies). An empty batch ends the hand-off.
func SendHandoffBatch(uc *net.UnixConn, items []HandoffItem) error {
	if len(items) > HandoffBatch {
		return fmt.Errorf("gateway: hand-off batch of %d", len(items))
	}
	size := 0
	for _, it := range items {
		size += 4 + len(it.State)
	}
	if size > maxBatchPayload {
		return fmt.Errorf("gateway: hand-off batch of %d bytes", size)
	}
	head := make([]byte, 12, 12+size)
	copy(head, batchMagic[:])
	binary.BigEndian.PutUint32(head[4:], uint32(len(items)))
	binary.BigEndian.PutUint32(head[8:], uint32(size))
	fds := make([]int, len(items))
	for i, it := range items {
		fds[i] = it.FD
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := uc.WriteMsgUnix(head, oob, nil); err != nil {
		return fmt.Errorf("gateway: send hand-off batch: %w", err)
	}
	payload := head[12:12]
	for _, it := range items {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(it.State)))
		payload = append(payload, it.State...)
	}
	if len(payload) == 0 {
		return nil // the end: the receiver may be gone already
	}
	if _, err := uc.Write(payload); err != nil {
		return fmt.Errorf("gateway: send hand-off batch: %w", err)
	}
	return nil
}

// RecvHandoffBatch reads one batch from uc. The descriptors received are
// the caller's to close, on every path but an error (they are closed
// then). An empty batch (nil, nil) ends the hand-off.
func RecvHandoffBatch(uc *net.UnixConn) ([]HandoffItem, error) {
	items, note, err := RecvHandoff(uc)
	if err == nil && note != nil {
		err = fmt.Errorf("%w: a note where a batch was due", ErrHandoffState)
	}
	return items, err
}

// RecvHandoff reads one batch, or one note, from uc: a note comes as its
// bytes (never nil), with no items; otherwise as RecvHandoffBatch.
func RecvHandoff(uc *net.UnixConn) ([]HandoffItem, []byte, error) {
	head := make([]byte, 12)
	oob := make([]byte, unix.CmsgSpace(4*HandoffBatch))
	n, oobn, flags, _, err := uc.ReadMsgUnix(head, oob)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: receive hand-off batch: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err == nil && flags&unix.MSG_CTRUNC != 0 {
		err = errors.New("gateway: hand-off descriptors truncated")
	}
	if err == nil && n < len(head) {
		_, err = io.ReadFull(uc, head[n:])
	}
	if err == nil && len(fds) == 0 && [4]byte(head[:4]) == noteMagic {
		note, err := readNote(uc, head)
		return nil, note, err
	}
	items, err := readBatch(uc, head, fds, err)
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, nil, err
	}
	return items, nil, nil
}

// readBatch checks a batch's head against the descriptors that came with
// it and reads its states.
func readBatch(r io.Reader, head []byte, fds []int, err error) ([]HandoffItem, error) {
	if err != nil {
		return nil, err
	}
	if [4]byte(head[:4]) != batchMagic {
		return nil, fmt.Errorf("%w: not a batch", ErrHandoffState)
	}
	count, size := binary.BigEndian.Uint32(head[4:]), binary.BigEndian.Uint32(head[8:])
	if count > HandoffBatch || int(count) != len(fds) || size > maxBatchPayload || size < 4*count {
		return nil, fmt.Errorf("%w: batch of %d (%d descriptors), %d bytes", ErrHandoffState, count, len(fds), size)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("gateway: receive hand-off batch: %w", err)
	}
	items := make([]HandoffItem, count)
	for i := range items {
		if len(payload) < 4 {
			return nil, fmt.Errorf("%w: batch cut short", ErrHandoffState)
		}
		l := binary.BigEndian.Uint32(payload)
		if uint64(l) > uint64(len(payload)-4) {
			return nil, fmt.Errorf("%w: state of %d bytes", ErrHandoffState, l)
		}
		items[i] = HandoffItem{State: payload[4 : 4+l], FD: fds[i]}
		payload = payload[4+l:]
	}
	if len(payload) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the batch", ErrHandoffState, len(payload))
	}
	return items, nil
}

// parseRights returns the descriptors in a control message.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("gateway: hand-off control message: %w", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("gateway: hand-off control message: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// SendHandoffAck answers a batch: ok[i] says whether its i-th connection
// was taken.
func SendHandoffAck(w io.Writer, ok []bool) error {
	b := make([]byte, 8, 8+len(ok))
	copy(b, ackMagic[:])
	binary.BigEndian.PutUint32(b[4:], uint32(len(ok)))
	for _, v := range ok {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	_, err := w.Write(b)
	return err
}

// RecvHandoffAck reads the answer to a batch of n connections.
func RecvHandoffAck(r io.Reader, n int) ([]bool, error) {
	b := make([]byte, 8+n)
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return nil, fmt.Errorf("gateway: hand-off answer: %w", err)
	}
	if [4]byte(b[:4]) != ackMagic || int(binary.BigEndian.Uint32(b[4:])) != n {
		return nil, fmt.Errorf("%w: bad answer", ErrHandoffState)
	}
	if _, err := io.ReadFull(r, b[8:]); err != nil {
		return nil, fmt.Errorf("gateway: hand-off answer: %w", err)
	}
	ok := make([]bool, n)
	for i := range ok {
		ok[i] = b[8+i] == 1
	}
	return ok, nil
}
