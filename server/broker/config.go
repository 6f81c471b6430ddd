package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/server/store"
	"github.com/rocketgo/rocketgo/server/transport"
)

// FlushDiskType and BrokerRole use RocketMQ's own spellings so that an
// existing broker.conf works unchanged.
const (
	AsyncFlush = "ASYNC_FLUSH"
	SyncFlush  = "SYNC_FLUSH"

	RoleAsyncMaster = "ASYNC_MASTER"
	RoleSyncMaster  = "SYNC_MASTER"
	RoleSlave       = "SLAVE"
)

// DefaultDelayLevels is RocketMQ's default messageDelayLevel table.
const DefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// ErrInvalidConfig is wrapped by every configuration validation error.
var ErrInvalidConfig = errors.New("broker: invalid configuration")

// Config is the broker configuration. Field comments give the broker.conf
// key and the default, which match Apache RocketMQ's unless noted.
type Config struct {
	BrokerClusterName string // brokerClusterName, "DefaultCluster"
	BrokerName        string // brokerName, "broker-a" (upstream: the host name)
	BrokerID          int64  // brokerId, 0 = master
	NamesrvAddr       string // namesrvAddr, "host:port;host:port", "" = register nowhere
	ListenPort        int    // listenPort, 10911
	BrokerIP1         string // brokerIP1, advertised address; "" = first non-loopback IPv4 (127.0.0.1 if none)
	ListenHost        string // listenHost (rocketgo), bind address; "" = all interfaces

	StorePathRootDir string // storePathRootDir, "$HOME/store"
	FlushDiskType    string // flushDiskType, ASYNC_FLUSH
	BrokerRole       string // brokerRole, ASYNC_MASTER

	AutoCreateTopicEnable       bool // autoCreateTopicEnable, true
	AutoCreateSubscriptionGroup bool // autoCreateSubscriptionGroup, true
	DefaultTopicQueueNums       int  // defaultTopicQueueNums, 8
	BrokerPermission            int  // brokerPermission, 6 (read|write)
	ClusterTopicEnable          bool // clusterTopicEnable, true
	BrokerTopicEnable           bool // brokerTopicEnable, true

	MaxMessageSize    int    // maxMessageSize, 4 MiB
	MessageDelayLevel string // messageDelayLevel, DefaultDelayLevels

	MappedFileSizeCommitLog    int64 // mappedFileSizeCommitLog, 1 GiB
	MappedFileSizeConsumeQueue int64 // mappedFileSizeConsumeQueue, 300,000 × 20 bytes
	FlushIntervalCommitLog     time.Duration
	SyncFlushTimeout           time.Duration
	MaxHashSlotNum             int // maxHashSlotNum, 5,000,000
	MaxIndexNum                int // maxIndexNum, 20,000,000
	// How much of the commit log before the checkpoint a restart
	// re-verifies record by record (layout and body CRC) before serving;
	// older records are verified when they are read. After a clean
	// shutdown (cleanRecoveryVerifyBytes, 32 MiB) the log was fsynced and
	// checkpointed at its end; after a crash (recoveryVerifyBytes,
	// 256 MiB) the last writes may be torn. -1 verifies the whole log.
	CleanRecoveryVerifyBytes int64 // cleanRecoveryVerifyBytes, 32 MiB
	RecoveryVerifyBytes      int64 // recoveryVerifyBytes, 256 MiB

	FileReservedTime      time.Duration // fileReservedTime (hours in the file), 72 h
	DeleteWhen            int           // deleteWhen (hour of day, "04"), 4
	DiskMaxUsedSpaceRatio int           // diskMaxUsedSpaceRatio (percent), 75

	// Overload protection (upstream's BrokerFastFailure). Sends wait in a
	// bounded queue for one of the send workers; a send that waited longer
	// than waitTimeMillsInSendQueue, or that meets an append holding the
	// commit-log lock longer than osPageCacheBusyTimeOutMills, is answered
	// SYSTEM_BUSY without being stored, so producers retry elsewhere.
	SendMessageThreadPoolNums   int           // sendMessageThreadPoolNums, min(GOMAXPROCS, 4) as upstream 5.x
	SendThreadPoolQueueCapacity int           // sendThreadPoolQueueCapacity, 10000: beyond it a send is answered [OVERLOAD]
	BrokerFastFailureEnable     bool          // brokerFastFailureEnable, true
	WaitTimeMillsInSendQueue    time.Duration // waitTimeMillsInSendQueue (ms), 200 ms
	OsPageCacheBusyTimeOutMills time.Duration // osPageCacheBusyTimeOutMills (ms), 1 s
	// Pulls and heartbeats wait in the server's worker queue; one that
	// waited longer than these is answered SYSTEM_BUSY instead of served.
	WaitTimeMillsInPullQueue      time.Duration // waitTimeMillsInPullQueue (ms), 5 s
	WaitTimeMillsInHeartbeatQueue time.Duration // waitTimeMillsInHeartbeatQueue (ms), 31 s

	LongPollingEnable     bool          // longPollingEnable, true
	ShortPollingTimeMills time.Duration // shortPollingTimeMills, 1 s

	RegisterNameServerPeriod    time.Duration // registerNameServerPeriod, 30 s (clamped 10–60 s upstream; not clamped here so tests can shorten it)
	FlushConsumerOffsetInterval time.Duration // flushConsumerOffsetInterval, 5 s
	ChannelExpiredTimeout       time.Duration // channelExpiredTimeout (rocketgo key), 120 s

	TransactionTimeOut       time.Duration // transactionTimeOut, 6 s
	TransactionCheckMax      int           // transactionCheckMax, 15
	TransactionCheckInterval time.Duration // transactionCheckInterval, 60 s

	EnablePropertyFilter bool // enablePropertyFilter, false: evaluate SQL92 subscriptions
	StoreReplyMessage    bool // storeReplyMessageEnable, true: keep replies in <cluster>_REPLY_TOPIC

	// Message trace (RIP-6): with traceTopicEnable the broker creates the
	// trace topic (one queue, read/write) at start. The trace topic's
	// messages are indexed by every key they carry, enabled or not, so
	// that clients' trace records are found by message id.
	TraceTopicEnable  bool   // traceTopicEnable, false
	MsgTraceTopicName string // msgTraceTopicName, "RMQ_SYS_TRACE_TOPIC"

	// Master/slave replication (RocketMQ's classic HA service; see ha.go).
	// A master listens on haListenPort for its slaves; a slave connects to
	// haMasterAddress, or, when that is empty, to the HA address the name
	// server reports for its master.
	HAListenPort            int           // haListenPort, 0 = listenPort+1 (a free port when listenPort is 0 or listenPort+1 is taken)
	HAMasterAddress         string        // haMasterAddress, "ip:port"; "" = learn it from the name server
	HASendHeartbeatInterval time.Duration // haSendHeartbeatInterval (ms), 5 s: idle heartbeat and slave report period
	HAHousekeepingInterval  time.Duration // haHousekeepingInterval (ms), 20 s: an HA connection silent this long is dropped
	HATransferBatchSize     int           // haTransferBatchSize, 32 KiB: log bytes per transfer frame (at most 4 MiB)
	HAMaxGapNotInSync       int64         // haMaxGapNotInSync, 256 MiB: SYNC_MASTER answers SLAVE_NOT_AVAILABLE beyond this lag

	// Slave reads (slave_read.go). A consumer whose backlog
	// (the commit log's end minus the log offset it has read up to) is
	// larger than accessMessageInMemoryMaxRatio percent of
	// physicalMemorySize would read from disk, not the page cache; with
	// slaveReadEnable the broker then tells it to pull from the group's
	// whichBrokerWhenConsumeSlowly (a slave), and back to the master once
	// it has caught up. Without it every answer names the master.
	SlaveReadEnable               bool  // slaveReadEnable, false
	AccessMessageInMemoryMaxRatio int   // accessMessageInMemoryMaxRatio (percent), 40
	PhysicalMemorySize            int64 // physicalMemorySize (rocketgo key, bytes), 0 = the machine's RAM (upstream always uses it)

	// Recall of timer messages (recall.go, RocketMQ 5.3.1+ RECALL_MESSAGE).
	// Upstream ships recall switched off; rocketgo switches it on, since a
	// recall needs the handle only the producer of the message was given.
	RecallMessageEnable               bool // recallMessageEnable, true (upstream false)
	AllowRecallWhenBrokerNotWriteable bool // allowRecallWhenBrokerNotWriteable, true

	// Controller mode (RocketMQ 5.x automatic failover; server/replicas):
	// the controller assigns brokerId and decides the role, so brokerRole
	// and brokerId are ignored. A master is SYNC_MASTER; which slaves must
	// hold a message before its send is acknowledged follows
	// allAckInSyncStateSet, inSyncReplicas and minInSyncReplicas.
	EnableControllerMode       bool          // enableControllerMode, false
	ControllerAddr             string        // controllerAddr, "host:port;host:port"
	BrokerHeartbeatInterval    time.Duration // brokerHeartbeatInterval (ms), 1 s
	ControllerHeartBeatTimeout time.Duration // controllerHeartBeatTimeoutMills, 10 s
	SyncBrokerMetadataPeriod   time.Duration // syncBrokerMetadataPeriod (ms), 5 s
	CheckSyncStateSetPeriod    time.Duration // checkSyncStateSetPeriod (ms), 5 s
	BrokerElectionPriority     int           // brokerElectionPriority, MaxInt32: lower is preferred among equal replicas
	HAMaxTimeSlaveNotCatchup   time.Duration // haMaxTimeSlaveNotCatchup (ms), 15 s: a slave behind this long leaves the SyncStateSet
	InSyncReplicas             int           // inSyncReplicas, 1: replicas (the master included) a send needs unless allAckInSyncStateSet
	MinInSyncReplicas          int           // minInSyncReplicas, 1: below this many in-sync replicas sends are refused
	AllAckInSyncStateSet       bool          // allAckInSyncStateSet, false: a send needs every SyncStateSet member
	// Access control (package server/acl). With AclEnable every request
	// must pass the rules of AclFile; the broker signs its own requests
	// (name-server registration, slave sync) with AclAccessKey/AclSecretKey
	// when they are set, so a secured master or name server accepts them.
	AclEnable    bool   // aclEnable, false
	AclFile      string // aclFile, "" = $ROCKETMQ_HOME/conf/plain_acl.yml
	AclAccessKey string // aclAccessKey (rocketgo key), ""
	AclSecretKey string // aclSecretKey (rocketgo key), ""

	// TLS (upstream's tls.server.* settings under rocketgo key names).
	// TlsMode serves the listen port as disabled, permissive (TLS and plain
	// on one port) or enforcing (TLS only). TlsEnable makes the broker's own
	// connections (name servers, master) TLS, trusting the system roots,
	// TlsCAFile and TlsCertFile (so a self-signed certificate shared by a
	// cluster works), presenting TlsCertFile as its client certificate.
	TlsMode     string // tlsMode, "disabled"
	TlsCertFile string // tlsCertFile, PEM certificate (chain)
	TlsKeyFile  string // tlsKeyFile, PEM private key
	TlsCAFile   string // tlsCAFile, "": when set, clients must present a certificate it signed
	TlsEnable   bool   // tlsEnable, false

	// Metrics (upstream 5.x keys). The broker itself only validates them;
	// whoever starts it (cmd/rocketgo, server/embedded) serves /metrics
	// with package server/metrics when the type is PROM.
	MetricsExporterType     string // metricsExporterType, DISABLE; PROM exports Prometheus text (OTLP_GRPC and LOG are not supported)
	MetricsPromExporterHost string // metricsPromExporterHost, "" = brokerIP1, else every interface
	MetricsPromExporterPort int    // metricsPromExporterPort, 5557
	MetricsLabel            string // metricsLabel, "k1:v1,k2:v2" constant labels on every series
}

// Metrics exporter types, as upstream's MetricsExporterType.
const (
	MetricsDisable = "DISABLE"
	MetricsProm    = "PROM"
)

// MetricsAddr is where /metrics listens when the exporter type is PROM.
func (c *Config) MetricsAddr() string {
	host := c.MetricsPromExporterHost
	if host == "" {
		host = c.BrokerIP1
	}
	return net.JoinHostPort(host, strconv.Itoa(c.MetricsPromExporterPort))
}

// DefaultConfig returns the configuration an unconfigured broker runs with.
func DefaultConfig() Config {
	root := "store"
	if home, err := os.UserHomeDir(); err == nil {
		root = filepath.Join(home, "store")
	}
	return Config{
		BrokerClusterName:             "DefaultCluster",
		BrokerName:                    "broker-a",
		ListenPort:                    10911,
		StorePathRootDir:              root,
		FlushDiskType:                 AsyncFlush,
		BrokerRole:                    RoleAsyncMaster,
		AutoCreateTopicEnable:         true,
		AutoCreateSubscriptionGroup:   true,
		DefaultTopicQueueNums:         8,
		BrokerPermission:              PermRead | PermWrite,
		ClusterTopicEnable:            true,
		BrokerTopicEnable:             true,
		MaxMessageSize:                4 << 20,
		MessageDelayLevel:             DefaultDelayLevels,
		MappedFileSizeCommitLog:       1 << 30,
		MappedFileSizeConsumeQueue:    300_000 * 20,
		FlushIntervalCommitLog:        500 * time.Millisecond,
		SyncFlushTimeout:              5 * time.Second,
		MaxHashSlotNum:                5_000_000,
		MaxIndexNum:                   20_000_000,
		CleanRecoveryVerifyBytes:      store.DefaultCleanRecoveryVerifyBytes,
		RecoveryVerifyBytes:           store.DefaultRecoveryVerifyBytes,
		FileReservedTime:              72 * time.Hour,
		DeleteWhen:                    4,
		DiskMaxUsedSpaceRatio:         75,
		SendMessageThreadPoolNums:     min(runtime.GOMAXPROCS(0), 4),
		SendThreadPoolQueueCapacity:   10000,
		BrokerFastFailureEnable:       true,
		WaitTimeMillsInSendQueue:      200 * time.Millisecond,
		OsPageCacheBusyTimeOutMills:   time.Second,
		WaitTimeMillsInPullQueue:      5 * time.Second,
		WaitTimeMillsInHeartbeatQueue: 31 * time.Second,
		LongPollingEnable:             true,
		StoreReplyMessage:             true,
		MsgTraceTopicName:             DefaultTraceTopic,
		ShortPollingTimeMills:         time.Second,
		RegisterNameServerPeriod:      30 * time.Second,
		FlushConsumerOffsetInterval:   5 * time.Second,
		ChannelExpiredTimeout:         120 * time.Second,
		TransactionTimeOut:            6 * time.Second,
		TransactionCheckMax:           15,
		TransactionCheckInterval:      60 * time.Second,
		HASendHeartbeatInterval:       5 * time.Second,
		HAHousekeepingInterval:        20 * time.Second,
		HATransferBatchSize:           32 << 10,
		HAMaxGapNotInSync:             256 << 20,
		AccessMessageInMemoryMaxRatio: 40,
		BrokerHeartbeatInterval:       time.Second,
		ControllerHeartBeatTimeout:    10 * time.Second,
		SyncBrokerMetadataPeriod:      5 * time.Second,
		CheckSyncStateSetPeriod:       5 * time.Second,
		BrokerElectionPriority:        1<<31 - 1,
		HAMaxTimeSlaveNotCatchup:      15 * time.Second,
		InSyncReplicas:                1,
		MinInSyncReplicas:             1,
		MetricsExporterType:           MetricsDisable,
		MetricsPromExporterPort:       5557,

		RecallMessageEnable:               true,
		AllowRecallWhenBrokerNotWriteable: true,
	}
}

// configKey binds one broker.conf key to its field. Durations are written in
// the unit upstream uses for that key (milliseconds or hours).
type configKey struct {
	name string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

func stringKey(name string, f func(*Config) *string) configKey {
	return configKey{name,
		func(c *Config, v string) error { *f(c) = v; return nil },
		func(c *Config) string { return *f(c) }}
}

func intKey(name string, f func(*Config) *int) configKey {
	return configKey{name,
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			*f(c) = n
			return err
		},
		func(c *Config) string { return strconv.Itoa(*f(c)) }}
}

func int64Key(name string, f func(*Config) *int64) configKey {
	return configKey{name,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			*f(c) = n
			return err
		},
		func(c *Config) string { return strconv.FormatInt(*f(c), 10) }}
}

func boolKey(name string, f func(*Config) *bool) configKey {
	return configKey{name,
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			*f(c) = b
			return err
		},
		func(c *Config) string { return strconv.FormatBool(*f(c)) }}
}

func durationKey(name string, unit time.Duration, f func(*Config) *time.Duration) configKey {
	return configKey{name,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			*f(c) = time.Duration(n) * unit
			return err
		},
		func(c *Config) string { return strconv.FormatInt(int64(*f(c)/unit), 10) }}
}

// configKeys is built per call so that no mutable table lives at package level.
func configKeys() []configKey {
	return []configKey{
		stringKey("brokerClusterName", func(c *Config) *string { return &c.BrokerClusterName }),
		stringKey("brokerName", func(c *Config) *string { return &c.BrokerName }),
		int64Key("brokerId", func(c *Config) *int64 { return &c.BrokerID }),
		stringKey("namesrvAddr", func(c *Config) *string { return &c.NamesrvAddr }),
		intKey("listenPort", func(c *Config) *int { return &c.ListenPort }),
		stringKey("brokerIP1", func(c *Config) *string { return &c.BrokerIP1 }),
		stringKey("listenHost", func(c *Config) *string { return &c.ListenHost }),
		stringKey("storePathRootDir", func(c *Config) *string { return &c.StorePathRootDir }),
		stringKey("flushDiskType", func(c *Config) *string { return &c.FlushDiskType }),
		stringKey("brokerRole", func(c *Config) *string { return &c.BrokerRole }),
		boolKey("autoCreateTopicEnable", func(c *Config) *bool { return &c.AutoCreateTopicEnable }),
		boolKey("autoCreateSubscriptionGroup", func(c *Config) *bool { return &c.AutoCreateSubscriptionGroup }),
		intKey("defaultTopicQueueNums", func(c *Config) *int { return &c.DefaultTopicQueueNums }),
		intKey("brokerPermission", func(c *Config) *int { return &c.BrokerPermission }),
		boolKey("clusterTopicEnable", func(c *Config) *bool { return &c.ClusterTopicEnable }),
		boolKey("brokerTopicEnable", func(c *Config) *bool { return &c.BrokerTopicEnable }),
		intKey("maxMessageSize", func(c *Config) *int { return &c.MaxMessageSize }),
		stringKey("messageDelayLevel", func(c *Config) *string { return &c.MessageDelayLevel }),
		int64Key("mappedFileSizeCommitLog", func(c *Config) *int64 { return &c.MappedFileSizeCommitLog }),
		int64Key("mappedFileSizeConsumeQueue", func(c *Config) *int64 { return &c.MappedFileSizeConsumeQueue }),
		durationKey("flushIntervalCommitLog", time.Millisecond, func(c *Config) *time.Duration { return &c.FlushIntervalCommitLog }),
		durationKey("syncFlushTimeout", time.Millisecond, func(c *Config) *time.Duration { return &c.SyncFlushTimeout }),
		intKey("maxHashSlotNum", func(c *Config) *int { return &c.MaxHashSlotNum }),
		intKey("maxIndexNum", func(c *Config) *int { return &c.MaxIndexNum }),
		int64Key("cleanRecoveryVerifyBytes", func(c *Config) *int64 { return &c.CleanRecoveryVerifyBytes }),
		int64Key("recoveryVerifyBytes", func(c *Config) *int64 { return &c.RecoveryVerifyBytes }),
		durationKey("fileReservedTime", time.Hour, func(c *Config) *time.Duration { return &c.FileReservedTime }),
		{"deleteWhen",
			func(c *Config, v string) error {
				// Upstream allows several hours separated by ';'; we take the first.
				first, _, _ := strings.Cut(v, ";")
				n, err := strconv.Atoi(strings.TrimSpace(first))
				c.DeleteWhen = n
				return err
			},
			func(c *Config) string { return fmt.Sprintf("%02d", c.DeleteWhen) }},
		intKey("diskMaxUsedSpaceRatio", func(c *Config) *int { return &c.DiskMaxUsedSpaceRatio }),
		intKey("sendMessageThreadPoolNums", func(c *Config) *int { return &c.SendMessageThreadPoolNums }),
		intKey("sendThreadPoolQueueCapacity", func(c *Config) *int { return &c.SendThreadPoolQueueCapacity }),
		boolKey("brokerFastFailureEnable", func(c *Config) *bool { return &c.BrokerFastFailureEnable }),
		durationKey("waitTimeMillsInSendQueue", time.Millisecond, func(c *Config) *time.Duration { return &c.WaitTimeMillsInSendQueue }),
		durationKey("osPageCacheBusyTimeOutMills", time.Millisecond, func(c *Config) *time.Duration { return &c.OsPageCacheBusyTimeOutMills }),
		durationKey("waitTimeMillsInPullQueue", time.Millisecond, func(c *Config) *time.Duration { return &c.WaitTimeMillsInPullQueue }),
		durationKey("waitTimeMillsInHeartbeatQueue", time.Millisecond, func(c *Config) *time.Duration { return &c.WaitTimeMillsInHeartbeatQueue }),
		boolKey("longPollingEnable", func(c *Config) *bool { return &c.LongPollingEnable }),
		durationKey("shortPollingTimeMills", time.Millisecond, func(c *Config) *time.Duration { return &c.ShortPollingTimeMills }),
		durationKey("registerNameServerPeriod", time.Millisecond, func(c *Config) *time.Duration { return &c.RegisterNameServerPeriod }),
		durationKey("flushConsumerOffsetInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.FlushConsumerOffsetInterval }),
		durationKey("channelExpiredTimeout", time.Millisecond, func(c *Config) *time.Duration { return &c.ChannelExpiredTimeout }),
		durationKey("transactionTimeOut", time.Millisecond, func(c *Config) *time.Duration { return &c.TransactionTimeOut }),
		intKey("transactionCheckMax", func(c *Config) *int { return &c.TransactionCheckMax }),
		durationKey("transactionCheckInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.TransactionCheckInterval }),
		boolKey("enablePropertyFilter", func(c *Config) *bool { return &c.EnablePropertyFilter }),
		boolKey("storeReplyMessageEnable", func(c *Config) *bool { return &c.StoreReplyMessage }),
		boolKey("traceTopicEnable", func(c *Config) *bool { return &c.TraceTopicEnable }),
		stringKey("msgTraceTopicName", func(c *Config) *string { return &c.MsgTraceTopicName }),
		intKey("haListenPort", func(c *Config) *int { return &c.HAListenPort }),
		stringKey("haMasterAddress", func(c *Config) *string { return &c.HAMasterAddress }),
		durationKey("haSendHeartbeatInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.HASendHeartbeatInterval }),
		durationKey("haHousekeepingInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.HAHousekeepingInterval }),
		intKey("haTransferBatchSize", func(c *Config) *int { return &c.HATransferBatchSize }),
		int64Key("haMaxGapNotInSync", func(c *Config) *int64 { return &c.HAMaxGapNotInSync }),
		boolKey("slaveReadEnable", func(c *Config) *bool { return &c.SlaveReadEnable }),
		intKey("accessMessageInMemoryMaxRatio", func(c *Config) *int { return &c.AccessMessageInMemoryMaxRatio }),
		int64Key("physicalMemorySize", func(c *Config) *int64 { return &c.PhysicalMemorySize }),
		boolKey("recallMessageEnable", func(c *Config) *bool { return &c.RecallMessageEnable }),
		boolKey("allowRecallWhenBrokerNotWriteable", func(c *Config) *bool { return &c.AllowRecallWhenBrokerNotWriteable }),
		boolKey("enableControllerMode", func(c *Config) *bool { return &c.EnableControllerMode }),
		stringKey("controllerAddr", func(c *Config) *string { return &c.ControllerAddr }),
		durationKey("brokerHeartbeatInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.BrokerHeartbeatInterval }),
		durationKey("controllerHeartBeatTimeoutMills", time.Millisecond, func(c *Config) *time.Duration { return &c.ControllerHeartBeatTimeout }),
		durationKey("syncBrokerMetadataPeriod", time.Millisecond, func(c *Config) *time.Duration { return &c.SyncBrokerMetadataPeriod }),
		durationKey("checkSyncStateSetPeriod", time.Millisecond, func(c *Config) *time.Duration { return &c.CheckSyncStateSetPeriod }),
		intKey("brokerElectionPriority", func(c *Config) *int { return &c.BrokerElectionPriority }),
		durationKey("haMaxTimeSlaveNotCatchup", time.Millisecond, func(c *Config) *time.Duration { return &c.HAMaxTimeSlaveNotCatchup }),
		intKey("inSyncReplicas", func(c *Config) *int { return &c.InSyncReplicas }),
		intKey("minInSyncReplicas", func(c *Config) *int { return &c.MinInSyncReplicas }),
		boolKey("allAckInSyncStateSet", func(c *Config) *bool { return &c.AllAckInSyncStateSet }),
		boolKey("aclEnable", func(c *Config) *bool { return &c.AclEnable }),
		stringKey("aclFile", func(c *Config) *string { return &c.AclFile }),
		stringKey("aclAccessKey", func(c *Config) *string { return &c.AclAccessKey }),
		stringKey("aclSecretKey", func(c *Config) *string { return &c.AclSecretKey }),
		stringKey("tlsMode", func(c *Config) *string { return &c.TlsMode }),
		stringKey("tlsCertFile", func(c *Config) *string { return &c.TlsCertFile }),
		stringKey("tlsKeyFile", func(c *Config) *string { return &c.TlsKeyFile }),
		stringKey("tlsCAFile", func(c *Config) *string { return &c.TlsCAFile }),
		boolKey("tlsEnable", func(c *Config) *bool { return &c.TlsEnable }),
		{"metricsExporterType",
			func(c *Config, v string) error {
				// Upstream takes the enum name or its ordinal.
				names := []string{MetricsDisable, "OTLP_GRPC", MetricsProm, "LOG"}
				if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(names) {
					v = names[n]
				}
				c.MetricsExporterType = v
				return nil
			},
			func(c *Config) string { return c.MetricsExporterType }},
		stringKey("metricsPromExporterHost", func(c *Config) *string { return &c.MetricsPromExporterHost }),
		intKey("metricsPromExporterPort", func(c *Config) *int { return &c.MetricsPromExporterPort }),
		stringKey("metricsLabel", func(c *Config) *string { return &c.MetricsLabel }),
	}
}

// Set assigns one broker.conf key. It reports whether the key is known;
// a known key with a malformed value yields an error wrapping
// ErrInvalidConfig.
func (c *Config) Set(key, value string) (known bool, err error) {
	for _, k := range configKeys() {
		if k.name == key {
			if err := k.set(c, strings.TrimSpace(value)); err != nil {
				return true, fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, key, value, err)
			}
			return true, nil
		}
	}
	return false, nil
}

// Get returns the broker.conf spelling of a key's current value.
func (c *Config) Get(key string) (string, bool) {
	for _, k := range configKeys() {
		if k.name == key {
			return k.get(c), true
		}
	}
	return "", false
}

// Load reads a broker.conf into c. The file is Java properties text, as
// upstream reads it: "key=value", "key:value" and "key value" lines, '#' and
// '!' comments, backslash continuations and escapes (package properties).
// Unknown keys are returned so the caller can warn about them; they are not
// an error, because upstream files carry many keys rocketgo has no use for.
func (c *Config) Load(r io.Reader) (unknown []string, err error) {
	entries, err := properties.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	for _, e := range entries {
		known, err := c.Set(e.Key, e.Value)
		if err != nil {
			return unknown, fmt.Errorf("line %d: %w", e.Line, err)
		}
		if !known {
			unknown = append(unknown, e.Key)
		}
	}
	return unknown, nil
}

// LoadFile is Load on a named file.
func (c *Config) LoadFile(path string) (unknown []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.Load(f)
}

// Validate checks the configuration as a whole. It is called before the
// broker starts so that a bad file fails at start with a clear message.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.BrokerClusterName == "" {
		bad("brokerClusterName is empty")
	}
	if err := ValidateTopicName(c.BrokerName); c.BrokerName == "" || err != nil {
		bad("brokerName %q must be non-empty and use only [A-Za-z0-9%%_|-]", c.BrokerName)
	}
	if c.BrokerID < 0 {
		bad("brokerId %d is negative", c.BrokerID)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		bad("listenPort %d out of range", c.ListenPort)
	}
	if c.StorePathRootDir == "" {
		bad("storePathRootDir is empty")
	}
	if m, err := transport.ParseTLSMode(c.TlsMode); err != nil {
		bad("tlsMode %q must be disabled, permissive or enforcing", c.TlsMode)
	} else if m != transport.TLSDisabled && (c.TlsCertFile == "" || c.TlsKeyFile == "") {
		bad("tlsMode %s needs tlsCertFile and tlsKeyFile", c.TlsMode)
	}
	if c.SendMessageThreadPoolNums < 1 {
		bad("sendMessageThreadPoolNums %d must be at least 1", c.SendMessageThreadPoolNums)
	}
	if c.SendThreadPoolQueueCapacity < 1 {
		bad("sendThreadPoolQueueCapacity %d must be at least 1", c.SendThreadPoolQueueCapacity)
	}
	if c.WaitTimeMillsInSendQueue <= 0 || c.OsPageCacheBusyTimeOutMills <= 0 || c.WaitTimeMillsInPullQueue <= 0 || c.WaitTimeMillsInHeartbeatQueue <= 0 {
		bad("waitTimeMillsInSendQueue, osPageCacheBusyTimeOutMills, waitTimeMillsInPullQueue and waitTimeMillsInHeartbeatQueue must be positive")
	}
	if c.FlushDiskType != AsyncFlush && c.FlushDiskType != SyncFlush {
		bad("flushDiskType %q must be %s or %s", c.FlushDiskType, AsyncFlush, SyncFlush)
	}
	switch {
	case c.EnableControllerMode:
		// The controller decides the role and the id.
	case c.BrokerRole == RoleAsyncMaster, c.BrokerRole == RoleSyncMaster:
		if c.BrokerID != 0 {
			bad("brokerRole %s needs brokerId 0, got %d", c.BrokerRole, c.BrokerID)
		}
	case c.BrokerRole == RoleSlave:
		if c.BrokerID == 0 {
			bad("brokerRole SLAVE needs a brokerId above 0")
		}
	default:
		bad("brokerRole %q must be ASYNC_MASTER, SYNC_MASTER or SLAVE", c.BrokerRole)
	}
	if c.TraceTopicEnable {
		if err := ValidateTopicName(c.MsgTraceTopicName); err != nil {
			bad("msgTraceTopicName: %v", err)
		}
	}
	if c.DefaultTopicQueueNums < 1 || c.DefaultTopicQueueNums > 1024 {
		bad("defaultTopicQueueNums %d must be 1..1024", c.DefaultTopicQueueNums)
	}
	if c.BrokerPermission < 0 || c.BrokerPermission > PermRead|PermWrite|PermInherit {
		bad("brokerPermission %d must be 0..7", c.BrokerPermission)
	}
	if c.MaxMessageSize < 1 || c.MaxMessageSize > 1<<30 {
		bad("maxMessageSize %d must be 1..1 GiB", c.MaxMessageSize)
	}
	if _, err := ParseDelayLevels(c.MessageDelayLevel); err != nil {
		errs = append(errs, err)
	}
	if c.MappedFileSizeCommitLog < 64<<10 {
		bad("mappedFileSizeCommitLog %d is below 64 KiB", c.MappedFileSizeCommitLog)
	}
	if c.MappedFileSizeCommitLog < int64(c.MaxMessageSize)+1024 {
		bad("mappedFileSizeCommitLog %d cannot hold a message of maxMessageSize %d", c.MappedFileSizeCommitLog, c.MaxMessageSize)
	}
	if c.MappedFileSizeConsumeQueue < 20 || c.MappedFileSizeConsumeQueue%20 != 0 {
		bad("mappedFileSizeConsumeQueue %d must be a positive multiple of 20", c.MappedFileSizeConsumeQueue)
	}
	if c.DeleteWhen < 0 || c.DeleteWhen > 23 {
		bad("deleteWhen %d must be an hour 0..23", c.DeleteWhen)
	}
	if c.DiskMaxUsedSpaceRatio < 10 || c.DiskMaxUsedSpaceRatio > 95 {
		bad("diskMaxUsedSpaceRatio %d must be 10..95", c.DiskMaxUsedSpaceRatio)
	}
	if c.MaxHashSlotNum < 1 || c.MaxIndexNum < 1 {
		bad("maxHashSlotNum and maxIndexNum must be positive")
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"cleanRecoveryVerifyBytes", c.CleanRecoveryVerifyBytes}, {"recoveryVerifyBytes", c.RecoveryVerifyBytes}} {
		if v.n < -1 || v.n == 0 {
			bad("%s %d must be a positive byte count, or -1 to verify the whole log", v.name, v.n)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"flushIntervalCommitLog", c.FlushIntervalCommitLog},
		{"syncFlushTimeout", c.SyncFlushTimeout},
		{"shortPollingTimeMills", c.ShortPollingTimeMills},
		{"registerNameServerPeriod", c.RegisterNameServerPeriod},
		{"flushConsumerOffsetInterval", c.FlushConsumerOffsetInterval},
		{"channelExpiredTimeout", c.ChannelExpiredTimeout},
		{"transactionTimeOut", c.TransactionTimeOut},
		{"transactionCheckInterval", c.TransactionCheckInterval},
	} {
		if d.v <= 0 {
			bad("%s must be positive", d.name)
		}
	}
	if c.TransactionCheckMax < 1 {
		bad("transactionCheckMax %d must be positive", c.TransactionCheckMax)
	}
	switch c.MetricsExporterType {
	case MetricsDisable, MetricsProm:
	case "OTLP_GRPC", "LOG":
		bad("metricsExporterType %s is not supported by rocketgo; use PROM or DISABLE", c.MetricsExporterType)
	default:
		bad("metricsExporterType %q must be DISABLE or PROM", c.MetricsExporterType)
	}
	if c.MetricsPromExporterPort < 0 || c.MetricsPromExporterPort > 65535 {
		bad("metricsPromExporterPort %d out of range", c.MetricsPromExporterPort)
	}
	errs = append(errs, c.validateHA()...)
	errs = append(errs, c.validateControllerMode()...)
	return errors.Join(errs...)
}

// validateControllerMode checks the controller-mode keys.
func (c *Config) validateControllerMode() []error {
	if !c.EnableControllerMode {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if strings.TrimSpace(strings.ReplaceAll(c.ControllerAddr, ";", "")) == "" {
		bad("enableControllerMode needs controllerAddr")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"brokerHeartbeatInterval", c.BrokerHeartbeatInterval},
		{"controllerHeartBeatTimeoutMills", c.ControllerHeartBeatTimeout},
		{"syncBrokerMetadataPeriod", c.SyncBrokerMetadataPeriod},
		{"checkSyncStateSetPeriod", c.CheckSyncStateSetPeriod},
		{"haMaxTimeSlaveNotCatchup", c.HAMaxTimeSlaveNotCatchup},
	} {
		if d.v <= 0 {
			bad("%s must be positive", d.name)
		}
	}
	if c.ControllerHeartBeatTimeout <= c.BrokerHeartbeatInterval {
		bad("controllerHeartBeatTimeoutMills %v must be longer than brokerHeartbeatInterval %v", c.ControllerHeartBeatTimeout, c.BrokerHeartbeatInterval)
	}
	if c.InSyncReplicas < 1 || c.MinInSyncReplicas < 1 {
		bad("inSyncReplicas %d and minInSyncReplicas %d must be at least 1", c.InSyncReplicas, c.MinInSyncReplicas)
	}
	if c.AccessMessageInMemoryMaxRatio < 0 || c.AccessMessageInMemoryMaxRatio > 100 {
		bad("accessMessageInMemoryMaxRatio %d must be a percentage (0-100)", c.AccessMessageInMemoryMaxRatio)
	}
	if c.PhysicalMemorySize < 0 {
		bad("physicalMemorySize %d must not be negative", c.PhysicalMemorySize)
	}
	if c.HAMaxTimeSlaveNotCatchup <= c.HASendHeartbeatInterval {
		bad("haMaxTimeSlaveNotCatchup %v must be longer than haSendHeartbeatInterval %v", c.HAMaxTimeSlaveNotCatchup, c.HASendHeartbeatInterval)
	}
	return errs
}

// validateHA checks the replication keys.
func (c *Config) validateHA() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.HAListenPort < 0 || c.HAListenPort > 65535 {
		bad("haListenPort %d out of range", c.HAListenPort)
	}
	if c.HAListenPort == 0 && c.ListenPort == 65535 {
		bad("haListenPort defaults to listenPort+1, which is out of range for listenPort 65535")
	}
	if c.HAListenPort != 0 && c.HAListenPort == c.ListenPort {
		bad("haListenPort %d is the same port as listenPort", c.HAListenPort)
	}
	if c.HAMasterAddress != "" {
		host, port, err := net.SplitHostPort(c.HAMasterAddress)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			bad("haMasterAddress %q must be host:port", c.HAMasterAddress)
		}
	}
	if c.HASendHeartbeatInterval <= 0 {
		bad("haSendHeartbeatInterval must be positive")
	}
	if c.HAHousekeepingInterval <= c.HASendHeartbeatInterval {
		bad("haHousekeepingInterval %v must be longer than haSendHeartbeatInterval %v", c.HAHousekeepingInterval, c.HASendHeartbeatInterval)
	}
	if c.HATransferBatchSize < 1 || c.HATransferBatchSize > maxHAFrame {
		bad("haTransferBatchSize %d must be 1..%d", c.HATransferBatchSize, maxHAFrame)
	}
	if c.HAMaxGapNotInSync < 1 {
		bad("haMaxGapNotInSync %d must be positive", c.HAMaxGapNotInSync)
	}
	return errs
}

// ParseDelayLevels parses a messageDelayLevel table such as "1s 5s 1m 2h".
// Level n (1-based) is element n-1 of the result. Units are s, m, h and d,
// as upstream accepts.
func ParseDelayLevels(s string) ([]time.Duration, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: messageDelayLevel is empty", ErrInvalidConfig)
	}
	levels := make([]time.Duration, 0, len(fields))
	for _, f := range fields {
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[f[len(f)-1]]
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 64)
		if unit == 0 || err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: messageDelayLevel entry %q is not a positive number followed by s, m, h or d", ErrInvalidConfig, f)
		}
		levels = append(levels, time.Duration(n)*unit)
	}
	return levels, nil
}

// BrokerPermissionMask is the permission a topic may have on this broker:
// a broker configured read-only (brokerPermission=4) advertises every topic
// read-only. The inherit and priority bits pass through.
func (c *Config) BrokerPermissionMask() int {
	return c.BrokerPermission | PermInherit | PermPriority
}
