package selector

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestQueueString(t *testing.T) {
	q := Queue{Topic: "TopicTest", BrokerName: "broker-a", QueueID: 3}
	const want = "MessageQueue [topic=TopicTest, brokerName=broker-a, queueId=3]"
	if got := q.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := string(q.AppendString([]byte("x"))); got != "x"+want {
		t.Errorf("AppendString = %q", got)
	}
	neg := Queue{Topic: "t", BrokerName: "b", QueueID: -1}
	if got := neg.String(); got != "MessageQueue [topic=t, brokerName=b, queueId=-1]" {
		t.Errorf("negative id: %q", got)
	}
}

func TestQueueJSON(t *testing.T) {
	b, err := json.Marshal(Queue{Topic: "T", BrokerName: "broker-a", QueueID: 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"topic":"T","brokerName":"broker-a","queueId":0}` {
		t.Errorf("JSON = %s", got)
	}
}

func TestQueueCompare(t *testing.T) {
	in := []Queue{
		{"b", "x", 1}, {"a", "y", 0}, {"a", "x", 10}, {"a", "x", 2}, {"b", "x", 1},
	}
	slices.SortFunc(in, Queue.Compare)
	want := []Queue{{"a", "x", 2}, {"a", "x", 10}, {"a", "y", 0}, {"b", "x", 1}, {"b", "x", 1}}
	if !slices.Equal(in, want) {
		t.Errorf("sorted = %v", in)
	}
	if c := (Queue{"a", "x", 1}).Compare(Queue{"a", "x", 1}); c != 0 {
		t.Errorf("equal queues compare %d", c)
	}
}

// TestJavaCompare checks the order a JVM's Collections.sort gives for
// strings whose UTF-16 order differs from byte order.
func TestJavaCompare(t *testing.T) {
	in := []string{"a", "\uFFFD", "😀", "\uE000", "Z", "ab", "", "é"}
	slices.SortFunc(in, JavaCompare)
	// Java: "", "Z", "a", "ab", "é", "😀", U+E000, U+FFFD.
	want := []string{"", "Z", "a", "ab", "é", "😀", "\uE000", "\uFFFD"}
	if !slices.Equal(in, want) {
		t.Errorf("sorted = %q, want %q", in, want)
	}
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"abc", "abc", 0},
		{"abc", "abd", -1},
		{"ab", "abc", -1},
		{"x😀", "x\uFFFF", -1}, // surrogate D83D < FFFF
		{"😀", "😁", -1},        // same high surrogate, low decides
		{"\U00010000", "\U0010FFFF", -1},
		{"\xff", "\xfe", 1}, // invalid UTF-8 still totally ordered
		{"é", "e", 1},
	} {
		got := JavaCompare(tc.a, tc.b)
		if sign(got) != tc.sign || sign(JavaCompare(tc.b, tc.a)) != -tc.sign {
			t.Errorf("JavaCompare(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// Values printed by a JVM: "key".hashCode() and abs(hashCode % n).
var javaHashes = []struct {
	key        string
	hash       int32
	n4, n7, n8 int
}{
	{"", 0, 0, 0, 0},
	{"a", 97, 1, 6, 1},
	{"order-1", -1207111310, 2, 6, 6},
	{"order-2", -1207111309, 1, 5, 5},
	{"ORDER_20240101_0001", -287792627, 3, 3, 3},
	{"user:42", -147170163, 3, 0, 3},
	{"订单123", -711976609, 1, 1, 1},
	{"😀key", 1276932636, 0, 0, 4},
	{"polygenelubricants", -2147483648, 0, 2, 0},
	{"Aa", 2112, 0, 5, 0},
	{"BB", 2112, 0, 5, 0},
	{"hello world", 1794106052, 0, 4, 4},
}

func TestJavaHashCode(t *testing.T) {
	for _, tc := range javaHashes {
		if got := JavaHashCode(tc.key); got != tc.hash {
			t.Errorf("JavaHashCode(%q) = %d, want %d", tc.key, got, tc.hash)
		}
		for n, want := range map[int]int{4: tc.n4, 7: tc.n7, 8: tc.n8} {
			if got := HashIndex(tc.hash, n); got != want {
				t.Errorf("HashIndex(%q, %d) = %d, want %d", tc.key, n, got, want)
			}
		}
	}
	// Invalid UTF-8 hashes like U+FFFD, which is what Java decodes it to.
	if JavaHashCode("a\xffb") != JavaHashCode("a\uFFFDb") {
		t.Error("invalid byte not treated as U+FFFD")
	}
}

type hasher int32

func (h hasher) JavaHashCode() int32 { return int32(h) * 2 }

type stringer struct{}

func (stringer) String() string { return "order-1" }

func TestJavaHash(t *testing.T) {
	for _, tc := range []struct {
		arg  any
		want int32
	}{
		{"order-1", -1207111310},
		{int32(-1), -1},           // Integer.valueOf(-1).hashCode()
		{int(-1), -1},             // an int fitting Integer
		{int64(-1), 0},            // Long.valueOf(-1).hashCode()
		{int64(1<<40 | 5), 261},   // Long.hashCode folds the halves
		{int(1<<40 | 5), 261},     // too big for Integer ⇒ Long
		{uint(12345), 12345},      //
		{uint64(1<<40 | 5), 261},  //
		{int8(-3), -3},            //
		{uint16(65535), 65535},    //
		{true, 1231},              // Boolean.TRUE.hashCode()
		{false, 1237},             //
		{hasher(21), 42},          // custom
		{stringer{}, -1207111310}, // fmt.Stringer
		{struct{ x int }{1}, 0},   // no Java counterpart
		{[]byte("order-1"), 0},    // byte[] hashCode is identity in Java
		{uint32(0xFFFFFFFF), -1},  // Long 4294967295: low half ^ 0
		{int16(-32768), -32768},   //
		{uint8(200), 200},         //
		{uint(1 << 40), 256},      // 2^40 ^ 2^8, low 32 bits
	} {
		if got := JavaHash(tc.arg); got != tc.want {
			t.Errorf("JavaHash(%#v) = %d, want %d", tc.arg, got, tc.want)
		}
	}
}
