package consumers

import (
	"encoding/binary"
	"errors"
)

// A Watermill message of the roll-up consumers carries one pull batch of JetStream messages, so the
// router's per-message cost (a goroutine, an ack round trip) is paid once per batch rather than once
// per event. The payload is a sequence of frames, each one stream message with its position:
//
//	stream_seq u64 | consumer_seq u64 | stored_unix_nano i64 | pending u64 | len(subject) u16 | subject | len(data) u32 | data
//
// pending is the number of messages the consumer still had to deliver after this one.
//
// all big-endian. The frames are self-contained, so any Watermill middleware can inspect or
// forward a batch.
type frame struct {
	streamSeq   uint64
	consumerSeq uint64
	storedNanos int64
	pending     uint64
	subject     []byte
	data        []byte
}

const frameHeader = 8 + 8 + 8 + 8 + 2

var errBadFrame = errors.New("truncated frame in batch payload")

func appendFrame(b []byte, f frame) []byte { return appendFrameSubject(b, f, string(f.subject)) }

// appendFrameSubject frames f with the given subject (f.subject is ignored), sparing a conversion.
func appendFrameSubject(b []byte, f frame, subject string) []byte {
	b = binary.BigEndian.AppendUint64(b, f.streamSeq)
	b = binary.BigEndian.AppendUint64(b, f.consumerSeq)
	b = binary.BigEndian.AppendUint64(b, uint64(f.storedNanos))
	b = binary.BigEndian.AppendUint64(b, f.pending)
	b = binary.BigEndian.AppendUint16(b, uint16(len(subject)))
	b = append(b, subject...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(f.data)))
	return append(b, f.data...)
}

// nextFrame reads the first frame of b and returns the rest. The frame aliases b.
func nextFrame(b []byte) (frame, []byte, error) {
	var f frame
	if len(b) < frameHeader {
		return f, nil, errBadFrame
	}
	f.streamSeq = binary.BigEndian.Uint64(b)
	f.consumerSeq = binary.BigEndian.Uint64(b[8:])
	f.storedNanos = int64(binary.BigEndian.Uint64(b[16:]))
	f.pending = binary.BigEndian.Uint64(b[24:])
	n := int(binary.BigEndian.Uint16(b[32:]))
	b = b[frameHeader:]
	if len(b) < n+4 {
		return f, nil, errBadFrame
	}
	f.subject, b = b[:n], b[n:]
	m := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) < m {
		return f, nil, errBadFrame
	}
	f.data, b = b[:m], b[m:]
	return f, b, nil
}

// frames decodes a whole payload.
func frames(payload []byte) ([]frame, error) {
	var out []frame
	for len(payload) > 0 {
		f, rest, err := nextFrame(payload)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		payload = rest
	}
	return out, nil
}
