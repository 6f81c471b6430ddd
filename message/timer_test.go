package message

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestWithDeliverTimeAndDelay(t *testing.T) {
	at := time.Now().Add(time.Hour)
	m := New("T", []byte("x")).WithDeliverTime(at)
	if v, ok := m.Property(PropertyTimerDeliverMS); !ok || v != strconv.FormatInt(at.UnixMilli(), 10) {
		t.Fatalf("TIMER_DELIVER_MS %q %v", v, ok)
	}
	if err := m.Validate(0); err != nil {
		t.Fatal(err)
	}
	// A later WithDelay replaces the delivery time: one timer property only.
	m.WithDelay(90 * time.Second)
	if _, ok := m.Property(PropertyTimerDeliverMS); ok {
		t.Fatal("WithDelay kept TIMER_DELIVER_MS")
	}
	if v, _ := m.Property(PropertyTimerDelaySec); v != "90" {
		t.Fatalf("TIMER_DELAY_SEC %q", v)
	}
	m.WithDelay(1500 * time.Millisecond)
	if v, _ := m.Property(PropertyTimerDelayMS); v != "1500" {
		t.Fatalf("TIMER_DELAY_MS %q", v)
	}
	if _, ok := m.Property(PropertyTimerDelaySec); ok {
		t.Fatal("sub-second delay kept TIMER_DELAY_SEC")
	}
	if err := m.Validate(0); err != nil {
		t.Fatal(err)
	}
}

func TestTimerValidation(t *testing.T) {
	for name, m := range map[string]*Message{
		"deliver beyond max": New("T", []byte("x")).WithDeliverTime(time.Now().Add(MaxTimerDelay + time.Minute)),
		"delay beyond max":   New("T", []byte("x")).WithDelay(MaxTimerDelay + time.Second),
		"negative delay":     New("T", []byte("x")).WithDelay(-time.Second),
		"huge seconds":       New("T", []byte("x")).WithProperty(PropertyTimerDelaySec, "9223372036854775807"),
		"not a number":       New("T", []byte("x")).WithProperty(PropertyTimerDeliverMS, "soon"),
		"with delay level":   New("T", []byte("x")).WithDelay(time.Second).WithDelayLevel(2),
	} {
		if err := m.Validate(0); !errors.Is(err, ErrInvalidDeliverTime) {
			t.Errorf("%s: err %v, want ErrInvalidDeliverTime", name, err)
		}
	}
	// Exactly the maximum and a time already past are accepted.
	for _, m := range []*Message{
		New("T", []byte("x")).WithDelay(MaxTimerDelay),
		New("T", []byte("x")).WithDeliverTime(time.Now().Add(-time.Minute)),
	} {
		if err := m.Validate(0); err != nil {
			t.Errorf("valid timer refused: %v", err)
		}
	}
}
