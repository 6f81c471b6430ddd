package loadtest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSlowSends: with a threshold every send reaches, every measured
// send is in Result.Slow (none of the warm-up's), in order of start, and
// the summary says so; without one nothing is kept.
func TestRunSlowSends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Mode: ModeProduce, Messages: 120, Senders: 4, BatchSize: 2, Warmup: 100 * time.Millisecond,
		SlowOver: time.Nanosecond, Out: &out, ReportInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || res.Sent != 120 {
		t.Fatalf("failed=%v %s sent=%d", res.Failed, res.FailReason, res.Sent)
	}
	if len(res.Slow) != 60 || res.SlowDropped != 0 || res.SlowOver != time.Nanosecond {
		t.Fatalf("%d slow sends kept, %d dropped, over %v; want the 60 sends of 2 messages", len(res.Slow), res.SlowDropped, res.SlowOver)
	}
	for i, s := range res.Slow {
		if s.Messages != 2 || s.Latency <= 0 || s.Start.Before(res.Slow[max(i-1, 0)].Start) {
			t.Fatalf("slow send %d: %+v (previous %+v)", i, s, res.Slow[max(i-1, 0)])
		}
	}
	if !strings.Contains(out.String(), "Slow sends (>= 1ns): 60 (50.00 %)") {
		t.Errorf("summary lacks the slow-send line:\n%s", out.String())
	}

	res, err = Run(ctx, Config{Mode: ModeProduce, Messages: 20, Senders: 2, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Slow) != 0 {
		t.Errorf("%d slow sends kept with SlowOver off", len(res.Slow))
	}
}

func TestWriteSlowSends(t *testing.T) {
	t0 := time.UnixMicro(1_700_000_000_000_000)
	var b bytes.Buffer
	err := WriteSlowSends(&b, []SlowSend{
		{Start: t0, Latency: 12345 * time.Microsecond, Messages: 1},
		{Start: t0.Add(time.Millisecond), Latency: 11 * time.Millisecond, Messages: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "start_unix_us,end_unix_us,latency_us,messages\n" +
		"1700000000000000,1700000000012345,12345,1\n" +
		"1700000000001000,1700000000012000,11000,4\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestStalls: sends ending within stallWindow of each other form one
// stall when there are at least atLeast of them; stragglers and smaller
// bunches do not count.
func TestStalls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var sends []SlowSend
	add := func(end time.Duration, n int, step time.Duration) {
		for i := range n {
			e := end + time.Duration(i)*step
			sends = append(sends, SlowSend{Start: t0.Add(e - 10*time.Millisecond), Latency: 10 * time.Millisecond})
		}
	}
	add(0, 64, 30*time.Microsecond)                    // one stall: 64 sends ending within 2 ms
	add(100*time.Millisecond, 5, 200*time.Microsecond) // a bunch too small
	add(200*time.Millisecond, 40, 900*time.Microsecond)
	add(300*time.Millisecond, 10, 5*time.Millisecond) // one by one
	moments, released := stalls(sends, 32)
	if moments != 2 || released != 104 {
		t.Errorf("stalls = %d moments, %d sends; want 2, 104", moments, released)
	}
	if m, r := stalls(nil, 32); m != 0 || r != 0 {
		t.Errorf("no sends: %d, %d", m, r)
	}
}
