package broker

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.ListenPort != 10911 || c.MaxMessageSize != 4<<20 || c.FlushDiskType != AsyncFlush || c.DefaultTopicQueueNums != 8 ||
		c.WaitTimeMillsInSendQueue != 200*time.Millisecond || c.OsPageCacheBusyTimeOutMills != time.Second ||
		c.WaitTimeMillsInPullQueue != 5*time.Second || c.WaitTimeMillsInHeartbeatQueue != 31*time.Second {
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
waitTimeMillsInSendQueue=300
osPageCacheBusyTimeOutMills=1500
transientStorePoolEnable=true
`
	c := DefaultConfig()
	unknown, err := c.Load(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	if len(unknown) != 1 || unknown[0] != "transientStorePoolEnable" {
		t.Fatalf("unknown keys %v, want [transientStorePoolEnable]", unknown)
	}
	if c.SendMessageThreadPoolNums != 16 || c.WaitTimeMillsInSendQueue != 300*time.Millisecond ||
		c.OsPageCacheBusyTimeOutMills != 1500*time.Millisecond || c.SendThreadPoolQueueCapacity != 10000 || !c.BrokerFastFailureEnable {
		t.Fatalf("overload keys loaded wrong: %+v", c)
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
	for _, line := range []string{"listenPort=abc", "autoCreateTopicEnable=maybe", `brokerName=bad\uZZZZ`} {
		c := DefaultConfig()
		if _, err := c.Load(strings.NewReader(line)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%q: err = %v, want ErrInvalidConfig", line, err)
		}
	}
}

// TestLoadJavaPropertiesSyntax loads a file written the ways upstream's
// Properties.load accepts: colon and blank separators, continuations,
// escapes and '!' comments.
func TestLoadJavaPropertiesSyntax(t *testing.T) {
	conf := "! upstream 4.x sample style\n" +
		"brokerClusterName : JavaCluster\n" +
		"brokerName\tbroker-j\n" +
		"messageDelayLevel = 1s 5s \\\n" +
		"                    10s\n" +
		"storePathRootDir=/data/rocket\\\\mq\n" +
		"namesrvAddr=10.0.0.1:9876;\\\n" +
		"  10.0.0.2:9876\n" +
		"just-a-key\n"
	c := DefaultConfig()
	unknown, err := c.Load(strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	if c.BrokerClusterName != "JavaCluster" || c.BrokerName != "broker-j" || c.MessageDelayLevel != "1s 5s 10s" ||
		c.StorePathRootDir != `/data/rocket\mq` || c.NamesrvAddr != "10.0.0.1:9876;10.0.0.2:9876" {
		t.Fatalf("loaded config wrong: %+v", c)
	}
	if len(unknown) != 1 || unknown[0] != "just-a-key" {
		t.Fatalf("unknown keys %v, want [just-a-key]", unknown)
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

func TestHAConfigKeys(t *testing.T) {
	c := DefaultConfig()
	if c.HAListenPort != 0 || c.HASendHeartbeatInterval != 5*time.Second || c.HAHousekeepingInterval != 20*time.Second ||
		c.HATransferBatchSize != 32<<10 || c.HAMaxGapNotInSync != 256<<20 || c.HAMasterAddress != "" {
		t.Fatalf("HA defaults drifted from upstream: %+v", c)
	}
	conf := "brokerRole=SLAVE\nbrokerId=1\nhaListenPort=30912\nhaMasterAddress=10.0.0.1:10912\n" +
		"haSendHeartbeatInterval=1000\nhaHousekeepingInterval=4000\nhaTransferBatchSize=65536\nhaMaxGapNotInSync=1048576\n"
	if unknown, err := c.Load(strings.NewReader(conf)); err != nil || len(unknown) != 0 {
		t.Fatalf("load: unknown %v, %v", unknown, err)
	}
	if c.HAListenPort != 30912 || c.HAMasterAddress != "10.0.0.1:10912" || c.HASendHeartbeatInterval != time.Second ||
		c.HAHousekeepingInterval != 4*time.Second || c.HATransferBatchSize != 65536 || c.HAMaxGapNotInSync != 1<<20 {
		t.Fatalf("loaded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get("haSendHeartbeatInterval"); v != "1000" {
		t.Fatalf("haSendHeartbeatInterval formatted as %q", v)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.HAListenPort = 70000 },
		func(c *Config) { c.HAListenPort = c.ListenPort },
		func(c *Config) { c.ListenPort = 65535 }, // listenPort+1 does not exist
		func(c *Config) { c.HAMasterAddress = "10.0.0.1" },
		func(c *Config) { c.HAMasterAddress = ":10912" },
		func(c *Config) { c.HASendHeartbeatInterval = 0 },
		func(c *Config) { c.HAHousekeepingInterval = c.HASendHeartbeatInterval },
		func(c *Config) { c.HATransferBatchSize = 0 },
		func(c *Config) { c.HATransferBatchSize = 8 << 20 },
		func(c *Config) { c.HAMaxGapNotInSync = 0 },
	} {
		c := DefaultConfig()
		bad(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v validated: %v", c, err)
		}
	}
}

func TestMetricsKeys(t *testing.T) {
	c := DefaultConfig()
	if c.MetricsExporterType != MetricsDisable || c.MetricsPromExporterPort != 5557 {
		t.Fatalf("metrics defaults %q %d", c.MetricsExporterType, c.MetricsPromExporterPort)
	}
	conf := "metricsExporterType=PROM\nmetricsPromExporterHost=10.0.0.5\nmetricsPromExporterPort=9555\nmetricsLabel=region:eu"
	if _, err := c.Load(strings.NewReader(conf)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || c.MetricsAddr() != "10.0.0.5:9555" || c.MetricsLabel != "region:eu" {
		t.Fatalf("addr %s label %q: %v", c.MetricsAddr(), c.MetricsLabel, err)
	}
	c.MetricsPromExporterHost, c.BrokerIP1 = "", "10.0.0.9"
	if c.MetricsAddr() != "10.0.0.9:9555" {
		t.Fatalf("host defaults to brokerIP1: %s", c.MetricsAddr())
	}
	c.Set("metricsExporterType", "2") // upstream's ordinal for PROM
	if c.MetricsExporterType != MetricsProm {
		t.Fatalf("ordinal 2 read as %q", c.MetricsExporterType)
	}
	for _, v := range []string{"OTLP_GRPC", "LOG", "prometheus"} {
		c := DefaultConfig()
		c.Set("metricsExporterType", v)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "metricsExporterType") {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// TestDeploySamplesLoad checks the sample files in deploy/conf: every key
// known, every file valid.
func TestDeploySamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "conf", "*.conf"))
	if err != nil || len(files) < 3 {
		t.Fatalf("samples %v: %v", files, err)
	}
	for _, f := range files {
		c := DefaultConfig()
		unknown, err := c.LoadFile(f)
		if err != nil || len(unknown) > 0 {
			t.Errorf("%s: unknown keys %v, err %v", f, unknown, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if c.MetricsExporterType != MetricsProm {
			t.Errorf("%s: the samples turn metrics on", f)
		}
	}
}

// TestRecoveryVerifyKeys: the restart verify windows default to the
// store's (32 MiB after a clean shutdown, 256 MiB after a crash), load from
// broker.conf, reach the store, and refuse values that verify nothing.
func TestRecoveryVerifyKeys(t *testing.T) {
	c := DefaultConfig()
	if c.CleanRecoveryVerifyBytes != 32<<20 || c.RecoveryVerifyBytes != 256<<20 {
		t.Fatalf("defaults %d, %d; want 32 MiB, 256 MiB", c.CleanRecoveryVerifyBytes, c.RecoveryVerifyBytes)
	}
	if _, err := c.Load(strings.NewReader("cleanRecoveryVerifyBytes=8388608\nrecoveryVerifyBytes=-1\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get("cleanRecoveryVerifyBytes"); v != "8388608" {
		t.Fatalf("cleanRecoveryVerifyBytes formatted as %q", v)
	}
	b, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if sc := b.storeConfig(); sc.CleanRecoveryVerifyBytes != 8<<20 || sc.RecoveryVerifyBytes != -1 {
		t.Fatalf("store config windows %d, %d; want 8 MiB, -1", sc.CleanRecoveryVerifyBytes, sc.RecoveryVerifyBytes)
	}
	for _, bad := range []string{"cleanRecoveryVerifyBytes=0", "recoveryVerifyBytes=-2", "cleanRecoveryVerifyBytes=32MiB"} {
		c := DefaultConfig()
		_, err := c.Load(strings.NewReader(bad))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("%s: error %v, want one naming the key", bad, err)
		}
	}
}
