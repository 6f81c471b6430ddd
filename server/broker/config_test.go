package broker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.ListenPort != 10911 || c.MaxMessageSize != 4<<20 || c.FlushDiskType != AsyncFlush || c.DefaultTopicQueueNums != 8 {
		t.Fatalf("defaults drifted from upstream: %+v", c)
	}
}

func TestLoadBrokerConf(t *testing.T) {
	conf := `
# an upstream-style broker.conf
brokerClusterName = TestCluster
brokerName=broker-b
brokerId=0
deleteWhen=03
fileReservedTime=48
flushDiskType=SYNC_FLUSH
brokerRole=SYNC_MASTER
autoCreateTopicEnable=false
messageDelayLevel=1s 2s 3s
syncFlushTimeout=2500
sendMessageThreadPoolNums=16
`
	c := DefaultConfig()
	unknown, err := c.Load(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	if len(unknown) != 1 || unknown[0] != "sendMessageThreadPoolNums" {
		t.Fatalf("unknown keys %v, want [sendMessageThreadPoolNums]", unknown)
	}
	if c.BrokerClusterName != "TestCluster" || c.BrokerName != "broker-b" || c.DeleteWhen != 3 ||
		c.FileReservedTime != 48*time.Hour || c.FlushDiskType != SyncFlush || c.AutoCreateTopicEnable ||
		c.SyncFlushTimeout != 2500*time.Millisecond {
		t.Fatalf("loaded config wrong: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("loaded config invalid: %v", err)
	}
	if v, _ := c.Get("deleteWhen"); v != "03" {
		t.Fatalf("deleteWhen formatted as %q", v)
	}
}

func TestLoadRejectsMalformedValues(t *testing.T) {
	for _, line := range []string{"listenPort=abc", "autoCreateTopicEnable=maybe", "just-a-word"} {
		c := DefaultConfig()
		if _, err := c.Load(strings.NewReader(line)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%q: err = %v, want ErrInvalidConfig", line, err)
		}
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.FlushDiskType = "SOMETIMES"
	c.BrokerRole = RoleSlave // with brokerId 0
	c.MessageDelayLevel = "1s 5x"
	c.DiskMaxUsedSpaceRatio = 99
	err := c.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"flushDiskType", "SLAVE", "messageDelayLevel", "diskMaxUsedSpaceRatio"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestParseDelayLevels(t *testing.T) {
	levels, err := ParseDelayLevels(DefaultDelayLevels)
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != 18 || levels[0] != time.Second || levels[1] != 5*time.Second || levels[17] != 2*time.Hour {
		t.Fatalf("levels %v", levels)
	}
	for _, bad := range []string{"", "0s", "5", "1w", "-1s"} {
		if _, err := ParseDelayLevels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
