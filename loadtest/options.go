package loadtest

import (
	"strconv"
	"time"

	"github.com/rocketgo/rocketgo/message"
)

// messageShape is what RocketMQ's benchmark producer can put on every
// message besides the body (its -k, -p, -d/-e and -l options), computed
// once per run.
type messageShape struct {
	keys  bool
	delay int32
	tags  []string // "tag0".."tagN-1" with TagCount, else nil
	props [][2]string
}

func newMessageShape(cfg Config) messageShape {
	s := messageShape{keys: cfg.Keys, delay: int32(cfg.DelayLevel)}
	for i := range cfg.TagCount {
		s.tags = append(s.tags, "tag"+strconv.Itoa(i))
	}
	s.props = userProperties(cfg.PropertySize)
	return s
}

// userProperties are pairs prop0=hello<v>, prop1=<v>, … added until their
// names and values together pass size characters: the shape of the user
// properties RocketMQ's benchmark producer sends with -p.
func userProperties(size int) [][2]string {
	var out [][2]string
	for i, n := 0, 0; size > 0 && n <= size; i += 2 {
		v := strconv.Itoa(i / 2)
		a := [2]string{"prop" + strconv.Itoa(i), "hello" + v}
		b := [2]string{"prop" + strconv.Itoa(i+1), v}
		out = append(out, a, b)
		n += len(a[0]) + len(a[1]) + len(b[0]) + len(b[1])
	}
	return out
}

// apply decorates message seq (its sequence number in the run) sent at now.
func (s *messageShape) apply(m *message.Message, seq uint64, now time.Time) {
	if s.keys {
		// As upstream's benchmark: the send time in seconds, so many
		// messages share a key (index load without a unique key each).
		m.WithKeys(strconv.FormatInt(now.Unix(), 10))
	}
	if s.delay > 0 {
		m.WithDelayLevel(s.delay)
	}
	if len(s.tags) > 0 {
		// Round robin by sequence number rather than upstream's clock
		// modulo, so every tag gets the same share however fast the run.
		m.Tags = s.tags[seq%uint64(len(s.tags))]
	}
	for _, p := range s.props {
		m.SetProperty(p[0], p[1])
	}
}
