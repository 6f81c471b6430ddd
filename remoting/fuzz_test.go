package remoting

import (
	"errors"
	"testing"
)

// addOfficialSeeds seeds a fuzz target with the captured official frames
// (without length prefix) and their ROCKETMQ-binary re-encodings.
func addOfficialSeeds(f *testing.F, add func(frame []byte)) {
	for _, raw := range officialFrames(f) {
		add(raw[4:])
		c, err := DecodeFrame(raw[4:])
		if err != nil {
			f.Fatal(err)
		}
		c.SerializeType = SerializeRocketMQ
		bin, err := AppendFrame(nil, c)
		if err != nil {
			f.Fatal(err)
		}
		add(bin[4:])
	}
}

// FuzzDecodeFrame checks DecodeFrame never panics, only fails with
// ErrMalformedFrame, and that whatever it accepts re-encodes to a frame that
// decodes to the same command.
func FuzzDecodeFrame(f *testing.F) {
	addOfficialSeeds(f, func(frame []byte) { f.Add(frame) })
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	// Our producer's default request: SEND_MESSAGE_V2 in the binary header.
	send := NewRequest(SendMessageV2, sendHeaderSample().V2(), []byte("body"))
	send.SerializeType = SerializeRocketMQ
	if b, err := AppendFrame(nil, send); err == nil {
		f.Add(b[4:])
	}
	f.Add([]byte("\x00\x00\x00\x2b{\"remark\":\"\\ud83d\\ude00\\u0001\",\"code\":-1}"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := DecodeFrame(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("error does not wrap ErrMalformedFrame: %v", err)
			}
			return
		}
		out, err := AppendFrame(nil, c)
		if err != nil {
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		back, err := DecodeFrame(out[4:])
		if err != nil {
			t.Fatalf("decoding our own encoding: %v\nframe %q", err, out)
		}
		assertSameCommand(t, c, back)
	})
}

// FuzzSplitFrame runs the stream splitter over arbitrary input and caps: it
// must never panic, never hand out a frame above the cap and always account
// for exactly the bytes it consumed.
func FuzzSplitFrame(f *testing.F) {
	var stream []byte
	for _, raw := range officialFrames(f) {
		f.Add(raw, 0)
		stream = append(stream, raw...)
	}
	f.Add(stream, 1024)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, 0)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 100)
	f.Fuzz(func(t *testing.T, buf []byte, maxFrame int) {
		limit := maxFrame
		if limit <= 0 {
			limit = DefaultMaxFrameSize
		}
		for len(buf) > 0 {
			frame, n, err := SplitFrame(buf, maxFrame)
			if err != nil {
				if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				if frame != nil || n != 0 {
					t.Fatalf("error with frame/n: %d", n)
				}
				return
			}
			if n == 0 {
				if frame != nil {
					t.Fatal("frame without progress")
				}
				return
			}
			if n != 4+len(frame) || n > len(buf) || len(frame) > limit || cap(frame) != len(frame) {
				t.Fatalf("n %d frame %d buf %d limit %d cap %d", n, len(frame), len(buf), limit, cap(frame))
			}
			if _, err := DecodeFrame(frame); err != nil && !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("decode: %v", err)
			}
			buf = buf[n:]
		}
	})
}
