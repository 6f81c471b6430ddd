package message

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOffsetMsgIDKnown(t *testing.T) {
	// 10.0.0.1 = 0A000001, port 10911 = 00002A9F, offset 0x1234.
	got := OffsetMsgID(netip.MustParseAddrPort("10.0.0.1:10911"), 0x1234)
	if want := "0A00000100002A9F0000000000001234"; got != want {
		t.Errorf("OffsetMsgID = %s, want %s", got, want)
	}
	// A v4-mapped address is written as IPv4.
	if got := OffsetMsgID(netip.MustParseAddrPort("[::ffff:10.0.0.1]:10911"), 0x1234); len(got) != 32 {
		t.Errorf("v4-mapped id %s", got)
	}
	v6 := OffsetMsgID(netip.MustParseAddrPort("[2001:db8::1]:1"), -1)
	if want := "20010DB8000000000000000000000001" + "00000001" + "FFFFFFFFFFFFFFFF"; v6 != want {
		t.Errorf("IPv6 id = %s, want %s", v6, want)
	}
	if got := AppendOffsetMsgID([]byte("x,"), netip.MustParseAddrPort("1.2.3.4:5"), 6); string(got) != "x,01020304000000050000000000000006" {
		t.Errorf("AppendOffsetMsgID = %s", got)
	}
}

func TestOffsetMsgIDRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		host := randAddrPort(r)
		off := r.Int64() - r.Int64()
		id := OffsetMsgID(host, off)
		wantLen := 32
		if host.Addr().Is6() {
			wantLen = 56
		}
		if len(id) != wantLen || strings.ToUpper(id) != id {
			t.Fatalf("case %d: id %q", i, id)
		}
		for _, s := range []string{id, strings.ToLower(id)} {
			gh, go_, err := ParseOffsetMsgID(s)
			if err != nil || gh != host || go_ != off {
				t.Fatalf("case %d: Parse(%s) = %v %d %v, want %v %d", i, s, gh, go_, err, host, off)
			}
		}
	}
}

func TestParseOffsetMsgIDErrors(t *testing.T) {
	bad := []string{"", "ABC", strings.Repeat("0", 31), strings.Repeat("0", 33), strings.Repeat("G", 32),
		"0A00000100012A9F0000000000001234" /* port > 65535 */}
	for _, s := range bad {
		if _, _, err := ParseOffsetMsgID(s); !errors.Is(err, ErrInvalidMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) = %v", s, err)
		}
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestUniqIDLayout(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 2, 0, 0, 1, 500e6, time.UTC)}
	g := NewUniqIDGenerator(netip.MustParseAddr("192.168.1.2"), 0x12345, WithUniqIDClock(clk.now), WithUniqIDLocation(time.UTC))
	id := g.Next()
	if len(id) != 32 || strings.ToUpper(id) != id {
		t.Fatalf("id %q: want 32 uppercase hex", id)
	}
	if !strings.HasPrefix(id, "C0A80102"+"2345") {
		t.Errorf("id %s: ip/pid prefix wrong", id)
	}
	// One day and 1.5 s into March: 86,401,500 ms = 0x052661DC.
	if got := id[20:28]; got != "052661DC" {
		t.Errorf("time field %s, want 052661DC", got)
	}
	if got := id[28:]; got != "0001" {
		t.Errorf("counter %s, want 0001", got)
	}
	id2 := g.Next()
	if id2[:20] != id[:20] || id2[28:] != "0002" {
		t.Errorf("second id %s", id2)
	}
	// Month rollover resets the time field to "since April 1st".
	clk.set(time.Date(2026, 4, 1, 0, 0, 0, 7e6, time.UTC))
	if got := g.Next()[20:28]; got != "00000007" {
		t.Errorf("after rollover time field %s, want 00000007", got)
	}
	// NextAt takes the caller's time, not the generator's clock.
	if got := g.NextAt(time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC))[20:28]; got != "000003E8" {
		t.Errorf("NextAt time field %s, want 000003E8 (1 s into April)", got)
	}
	// Two generators in one process differ in the random field.
	g2 := NewUniqIDGenerator(netip.MustParseAddr("192.168.1.2"), 0x12345, WithUniqIDClock(clk.now), WithUniqIDLocation(time.UTC))
	if g2.Next()[12:20] == id[12:20] {
		t.Log("random fields collided (1 in 2^32); not a failure by itself")
	}
	v6 := NewUniqIDGenerator(netip.MustParseAddr("2001:db8::1"), 1).Next()
	if len(v6) != 56 || !strings.HasPrefix(v6, "20010DB8") {
		t.Errorf("IPv6 id %q", v6)
	}
	if _, err := strconv.ParseUint(id[20:], 16, 64); err != nil {
		t.Errorf("not hex: %v", err)
	}
}

func TestUniqIDConcurrentUnique(t *testing.T) {
	g := NewUniqIDGenerator(netip.MustParseAddr("10.1.1.1"), 42)
	const workers, per = 4, 5000 // below 65536 so the counter cannot wrap
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				ids[w] = append(ids[w], g.Next())
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool, workers*per)
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("duplicate id %s", id)
			}
			seen[id] = true
		}
	}
}
