package wire

import (
	"errors"
	"slices"
	"testing"
)

func TestDecodeSyncStateSet(t *testing.T) {
	s, err := DecodeSyncStateSet([]byte(`{"syncStateSet":[3,1,3,2],"syncStateSetEpoch":4}`))
	if err != nil || !slices.Equal(s.Members, []int64{1, 2, 3}) || s.Epoch != 4 || !s.Contains(2) || s.Contains(5) {
		t.Fatalf("got %+v, %v", s, err)
	}
	for _, bad := range []string{"", "{", `{"syncStateSet":"x"}`, `[1,2]`} {
		if _, err := DecodeSyncStateSet([]byte(bad)); !errors.Is(err, ErrMalformedBody) {
			t.Errorf("%q: want ErrMalformedBody, got %v", bad, err)
		}
	}
}
