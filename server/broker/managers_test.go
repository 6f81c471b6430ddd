package broker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/wire"
)

func fixedClock() func() time.Time {
	t := time.Unix(1_700_000_000, 0)
	return func() time.Time { t = t.Add(time.Millisecond); return t }
}

func TestValidateTopicName(t *testing.T) {
	long := make([]byte, 128)
	for i := range long {
		long[i] = 'a'
	}
	cases := map[string]bool{
		"TopicTest": true, "a_b-c|d%e": true, "%RETRY%" + string(long): true,
		"": false, "has space": false, "dot.ted": false, string(long): false, "中文": false,
	}
	for name, ok := range cases {
		err := ValidateTopicName(name)
		if (err == nil) != ok {
			t.Errorf("ValidateTopicName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("error %v does not wrap ErrInvalidTopic", err)
		}
	}
}

func TestTopicManagerSystemTopicsAndAutoCreate(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DefaultTopicQueueNums = 6
	m, err := newTopicManager(&cfg, boolFlag(cfg.AutoCreateTopicEnable), newJSONFile(dir, "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	tbw, ok := m.Get(TopicAutoCreate)
	if !ok || tbw.Perm != 7 || tbw.WriteQueueNums != 6 {
		t.Fatalf("TBW102 = %+v, %v", tbw, ok)
	}
	if sched, ok := m.Get(TopicSchedule); !ok || sched.ReadQueueNums != 18 {
		t.Fatalf("schedule topic = %+v", sched)
	}
	_, v0 := m.Snapshot()

	got, created, err := m.CreateOnSend("NewTopic", TopicAutoCreate, 4)
	if err != nil || !created || got.WriteQueueNums != 4 || got.Perm != PermRead|PermWrite {
		t.Fatalf("CreateOnSend = %+v, %v, %v", got, created, err)
	}
	if _, created, _ := m.CreateOnSend("NewTopic", TopicAutoCreate, 4); created {
		t.Fatal("second CreateOnSend created again")
	}
	// The client asks for more queues than the template has: clamp.
	if got, _, _ := m.CreateOnSend("Wide", TopicAutoCreate, 64); got.WriteQueueNums != 6 {
		t.Fatalf("queue count not clamped to template: %d", got.WriteQueueNums)
	}
	if _, v1 := m.Snapshot(); v1.Counter <= v0.Counter {
		t.Fatalf("data version did not advance: %+v -> %+v", v0, v1)
	}
	if _, _, err := m.CreateOnSend("NoTemplate", "Missing", 4); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("unknown template: err = %v", err)
	}
	if _, _, err := m.CreateOnSend("bad topic", TopicAutoCreate, 4); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("bad name: err = %v", err)
	}

	// Restart: user topics persist.
	m2, err := newTopicManager(&cfg, boolFlag(cfg.AutoCreateTopicEnable), newJSONFile(dir, "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m2.Get("NewTopic"); !ok || got.WriteQueueNums != 4 {
		t.Fatalf("after restart NewTopic = %+v, %v", got, ok)
	}
}

func TestTopicManagerAutoCreateDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AutoCreateTopicEnable = false
	m, err := newTopicManager(&cfg, boolFlag(cfg.AutoCreateTopicEnable), newJSONFile(t.TempDir(), "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(TopicAutoCreate); ok {
		t.Fatal("TBW102 exists with auto-create off")
	}
	if _, _, err := m.CreateOnSend("T", TopicAutoCreate, 4); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("err = %v, want ErrTopicNotExist", err)
	}
}

func TestTopicUpdateDeleteAndValidation(t *testing.T) {
	cfg := DefaultConfig()
	m, err := newTopicManager(&cfg, boolFlag(cfg.AutoCreateTopicEnable), newJSONFile(t.TempDir(), "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Update(wire.TopicConfig{TopicName: "Orders", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("Orders"); got.TopicFilterType != "SINGLE_TAG" || got.Attributes == nil {
		t.Fatalf("defaults not filled: %+v", got)
	}
	for _, bad := range []wire.TopicConfig{
		{TopicName: "x y", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
		{TopicName: "Z", ReadQueueNums: 0, WriteQueueNums: 0, Perm: 6},
		{TopicName: "Z", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 99},
	} {
		if err := m.Update(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("Update(%+v) err = %v", bad, err)
		}
	}
	if err := m.Delete("Orders"); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get("Orders"); ok {
		t.Fatal("deleted topic still present")
	}
}

func TestGroupManager(t *testing.T) {
	dir := t.TempDir()
	m, err := newGroupManager(boolFlag(true), newJSONFile(dir, "subscriptionGroup.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.Find("CG")
	if err != nil || g.RetryMaxTimes != 16 || g.RetryQueueNums != 1 || !g.ConsumeEnable {
		t.Fatalf("auto-created group = %+v, %v", g, err)
	}
	m2, err := newGroupManager(boolFlag(false), newJSONFile(dir, "subscriptionGroup.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Find("CG"); err != nil {
		t.Fatalf("persisted group lost: %v", err)
	}
	if _, err := m2.Find("Other"); !errors.Is(err, ErrGroupNotExist) {
		t.Fatalf("err = %v, want ErrGroupNotExist", err)
	}
}

func TestOffsetManagerPersistsOnlyWhenDirty(t *testing.T) {
	dir := t.TempDir()
	file := newJSONFile(dir, "consumerOffset.json")
	m, err := newOffsetManager(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "consumerOffset.json")); !os.IsNotExist(err) {
		t.Fatalf("clean table was written: %v", err)
	}
	m.Commit("CG", "T", 0, 42)
	m.Commit("CG", "T", 3, 7)
	m.Commit("Other", "U", 1, 5)
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	m2, err := newOffsetManager(file)
	if err != nil {
		t.Fatal(err)
	}
	if off, ok := m2.Query("CG", "T", 3); !ok || off != 7 {
		t.Fatalf("Query after reload = %d, %v", off, ok)
	}
	if _, ok := m2.Query("CG", "T", 1); ok {
		t.Fatal("uncommitted queue reported an offset")
	}
	if gs := m2.GroupsOf("U"); len(gs) != 1 || gs[0] != "Other" {
		t.Fatalf("GroupsOf = %v", gs)
	}
	m2.DeleteTopic("T")
	if q := m2.Queues("CG", "T"); len(q) != 0 {
		t.Fatalf("offsets survive topic deletion: %v", q)
	}
}

func TestJSONFileFallsBackToBackup(t *testing.T) {
	dir := t.TempDir()
	f := newJSONFile(dir, "t.json")
	if err := f.store(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.store(map[string]int{"a": 2}); err != nil {
		t.Fatal(err)
	}
	// Tear the main file as a crash during a hand edit would.
	if err := os.WriteFile(filepath.Join(dir, "t.json"), []byte(`{"a":`), 0o644); err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	found, err := f.load(&got)
	if err != nil || !found || got["a"] != 1 {
		t.Fatalf("load = %v, %v, %v; want backup value 1", got, found, err)
	}
}

// TestTraceTopicEnable: traceTopicEnable creates msgTraceTopicName (one
// read/write queue, as upstream); off, no trace topic exists; a bad name is
// a configuration error.
func TestTraceTopicEnable(t *testing.T) {
	cfg := DefaultConfig()
	m, err := newTopicManager(&cfg, boolFlag(cfg.AutoCreateTopicEnable), newJSONFile(t.TempDir(), "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(DefaultTraceTopic); ok {
		t.Fatal("trace topic exists with traceTopicEnable off")
	}
	c := DefaultConfig()
	if _, err := c.Load(strings.NewReader("traceTopicEnable=true\nmsgTraceTopicName=MyTrace\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err = newTopicManager(&c, boolFlag(c.AutoCreateTopicEnable), newJSONFile(t.TempDir(), "topics.json"), fixedClock())
	if err != nil {
		t.Fatal(err)
	}
	tc, ok := m.Get("MyTrace")
	if !ok || tc.ReadQueueNums != 1 || tc.WriteQueueNums != 1 || tc.Perm != PermRead|PermWrite {
		t.Fatalf("trace topic %+v, %v", tc, ok)
	}
	c.MsgTraceTopicName = "bad name"
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v", err)
	}
}

func boolFlag(v bool) *atomic.Bool {
	b := new(atomic.Bool)
	b.Store(v)
	return b
}

// TestOffsetManagerRecordsFirstCommitOfZero: a group that commits offset 0
// on a queue has an offset there (a query finds it), as upstream's table
// keeps it.
func TestOffsetManagerRecordsFirstCommitOfZero(t *testing.T) {
	m, err := newOffsetManager(newJSONFile(t.TempDir(), "consumerOffset.json"))
	if err != nil {
		t.Fatal(err)
	}
	m.Commit("CG", "T", 0, 0)
	if off, ok := m.Query("CG", "T", 0); !ok || off != 0 {
		t.Fatalf("Query = %d, %v; want 0, found", off, ok)
	}
	m.CommitForward("CG", "T", 1, 0)
	if _, ok := m.Query("CG", "T", 1); !ok {
		t.Fatal("a pull's first commit of 0 was not recorded")
	}
}
