// Request and response code tables: upstream RequestCode and ResponseCode
// (remoting/protocol in apache/rocketmq).

package remoting

// Request codes (upstream RequestCode). Codes that do not fit int16 (the
// 5.x POP range) are the WideCode constants below.
const (
	SendMessage                      int16 = 10  // SEND_MESSAGE
	PullMessage                      int16 = 11  // PULL_MESSAGE
	QueryMessage                     int16 = 12  // QUERY_MESSAGE
	QueryBrokerOffset                int16 = 13  // QUERY_BROKER_OFFSET
	QueryConsumerOffset              int16 = 14  // QUERY_CONSUMER_OFFSET
	UpdateConsumerOffset             int16 = 15  // UPDATE_CONSUMER_OFFSET
	UpdateAndCreateTopic             int16 = 17  // UPDATE_AND_CREATE_TOPIC
	GetAllTopicConfig                int16 = 21  // GET_ALL_TOPIC_CONFIG
	GetTopicConfigList               int16 = 22  // GET_TOPIC_CONFIG_LIST
	GetTopicNameList                 int16 = 23  // GET_TOPIC_NAME_LIST
	UpdateBrokerConfig               int16 = 25  // UPDATE_BROKER_CONFIG
	GetBrokerConfig                  int16 = 26  // GET_BROKER_CONFIG
	TriggerDeleteFiles               int16 = 27  // TRIGGER_DELETE_FILES
	GetBrokerRuntimeInfo             int16 = 28  // GET_BROKER_RUNTIME_INFO
	SearchOffsetByTimestamp          int16 = 29  // SEARCH_OFFSET_BY_TIMESTAMP
	GetMaxOffset                     int16 = 30  // GET_MAX_OFFSET
	GetMinOffset                     int16 = 31  // GET_MIN_OFFSET
	GetEarliestMsgStoretime          int16 = 32  // GET_EARLIEST_MSG_STORETIME
	ViewMessageByID                  int16 = 33  // VIEW_MESSAGE_BY_ID
	HeartBeat                        int16 = 34  // HEART_BEAT
	UnregisterClient                 int16 = 35  // UNREGISTER_CLIENT
	ConsumerSendMsgBack              int16 = 36  // CONSUMER_SEND_MSG_BACK
	EndTransaction                   int16 = 37  // END_TRANSACTION
	GetConsumerListByGroup           int16 = 38  // GET_CONSUMER_LIST_BY_GROUP
	CheckTransactionState            int16 = 39  // CHECK_TRANSACTION_STATE
	NotifyConsumerIDsChanged         int16 = 40  // NOTIFY_CONSUMER_IDS_CHANGED
	LockBatchMQ                      int16 = 41  // LOCK_BATCH_MQ
	UnlockBatchMQ                    int16 = 42  // UNLOCK_BATCH_MQ
	GetAllConsumerOffset             int16 = 43  // GET_ALL_CONSUMER_OFFSET
	GetAllDelayOffset                int16 = 45  // GET_ALL_DELAY_OFFSET
	CheckClientConfig                int16 = 46  // CHECK_CLIENT_CONFIG
	PutKVConfig                      int16 = 100 // PUT_KV_CONFIG
	GetKVConfig                      int16 = 101 // GET_KV_CONFIG
	DeleteKVConfig                   int16 = 102 // DELETE_KV_CONFIG
	RegisterBroker                   int16 = 103 // REGISTER_BROKER
	UnregisterBroker                 int16 = 104 // UNREGISTER_BROKER
	GetRouteInfoByTopic              int16 = 105 // GET_ROUTEINFO_BY_TOPIC
	GetBrokerClusterInfo             int16 = 106 // GET_BROKER_CLUSTER_INFO
	UpdateAndCreateSubscriptionGroup int16 = 200 // UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
	GetAllSubscriptionGroupConfig    int16 = 201 // GET_ALL_SUBSCRIPTIONGROUP_CONFIG
	GetTopicStatsInfo                int16 = 202 // GET_TOPIC_STATS_INFO
	GetConsumerConnectionList        int16 = 203 // GET_CONSUMER_CONNECTION_LIST
	GetProducerConnectionList        int16 = 204 // GET_PRODUCER_CONNECTION_LIST
	WipeWritePermOfBroker            int16 = 205 // WIPE_WRITE_PERM_OF_BROKER
	GetAllTopicListFromNameServer    int16 = 206 // GET_ALL_TOPIC_LIST_FROM_NAMESERVER
	DeleteSubscriptionGroup          int16 = 207 // DELETE_SUBSCRIPTIONGROUP
	GetConsumeStats                  int16 = 208 // GET_CONSUME_STATS
	SuspendConsumer                  int16 = 209 // SUSPEND_CONSUMER
	ResumeConsumer                   int16 = 210 // RESUME_CONSUMER
	ResetConsumerOffsetInConsumer    int16 = 211 // RESET_CONSUMER_OFFSET_IN_CONSUMER
	ResetConsumerOffsetInBroker      int16 = 212 // RESET_CONSUMER_OFFSET_IN_BROKER
	AdjustConsumerThreadPool         int16 = 213 // ADJUST_CONSUMER_THREAD_POOL
	WhoConsumeTheMessage             int16 = 214 // WHO_CONSUME_THE_MESSAGE
	DeleteTopicInBroker              int16 = 215 // DELETE_TOPIC_IN_BROKER
	DeleteTopicInNamesrv             int16 = 216 // DELETE_TOPIC_IN_NAMESRV
	GetKVListByNamespace             int16 = 219 // GET_KVLIST_BY_NAMESPACE
	ResetConsumerClientOffset        int16 = 220 // RESET_CONSUMER_CLIENT_OFFSET
	GetConsumerStatusFromClient      int16 = 221 // GET_CONSUMER_STATUS_FROM_CLIENT
	InvokeBrokerToResetOffset        int16 = 222 // INVOKE_BROKER_TO_RESET_OFFSET
	InvokeBrokerToGetConsumerStatus  int16 = 223 // INVOKE_BROKER_TO_GET_CONSUMER_STATUS
	GetTopicsByCluster               int16 = 224 // GET_TOPICS_BY_CLUSTER
	QueryTopicConsumeByWho           int16 = 300 // QUERY_TOPIC_CONSUME_BY_WHO
	RegisterFilterServer             int16 = 301 // REGISTER_FILTER_SERVER
	RegisterMessageFilterClass       int16 = 302 // REGISTER_MESSAGE_FILTER_CLASS
	QueryConsumeTimeSpan             int16 = 303 // QUERY_CONSUME_TIME_SPAN
	GetSystemTopicListFromNS         int16 = 304 // GET_SYSTEM_TOPIC_LIST_FROM_NS
	GetSystemTopicListFromBroker     int16 = 305 // GET_SYSTEM_TOPIC_LIST_FROM_BROKER
	CleanExpiredConsumeQueue         int16 = 306 // CLEAN_EXPIRED_CONSUMEQUEUE
	GetConsumerRunningInfo           int16 = 307 // GET_CONSUMER_RUNNING_INFO
	QueryCorrectionOffset            int16 = 308 // QUERY_CORRECTION_OFFSET
	ConsumeMessageDirectly           int16 = 309 // CONSUME_MESSAGE_DIRECTLY
	SendMessageV2                    int16 = 310 // SEND_MESSAGE_V2
	GetUnitTopicList                 int16 = 311 // GET_UNIT_TOPIC_LIST
	GetHasUnitSubTopicList           int16 = 312 // GET_HAS_UNIT_SUB_TOPIC_LIST
	GetHasUnitSubUnunitTopicList     int16 = 313 // GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST
	CloneGroupOffset                 int16 = 314 // CLONE_GROUP_OFFSET
	ViewBrokerStatsData              int16 = 315 // VIEW_BROKER_STATS_DATA
	CleanUnusedTopic                 int16 = 316 // CLEAN_UNUSED_TOPIC
	GetBrokerConsumeStats            int16 = 317 // GET_BROKER_CONSUME_STATS
	UpdateNamesrvConfig              int16 = 318 // UPDATE_NAMESRV_CONFIG
	GetNamesrvConfig                 int16 = 319 // GET_NAMESRV_CONFIG
	SendBatchMessage                 int16 = 320 // SEND_BATCH_MESSAGE
	QueryConsumeQueue                int16 = 321 // QUERY_CONSUME_QUEUE
	QueryDataVersion                 int16 = 322 // QUERY_DATA_VERSION
	ResumeCheckHalfMessage           int16 = 323 // RESUME_CHECK_HALF_MESSAGE
	SendReplyMessage                 int16 = 324 // SEND_REPLY_MESSAGE
	SendReplyMessageV2               int16 = 325 // SEND_REPLY_MESSAGE_V2
	PushReplyMessageToClient         int16 = 326 // PUSH_REPLY_MESSAGE_TO_CLIENT
	AddWritePermOfBroker             int16 = 327 // ADD_WRITE_PERM_OF_BROKER
	RecallMessage                    int16 = 370 // RECALL_MESSAGE (5.3.1+)
	BrokerHeartbeat                  int16 = 904 // BROKER_HEARTBEAT
)

// GetTimerCheckPoint (GET_TIMER_CHECK_POINT): a slave copies its master's
// timer progress, so a promoted slave does not deliver timed messages twice.
// rocketgo brokers answer with their own progress body.
const GetTimerCheckPoint int16 = 60

// Controller-mode request codes (RocketMQ 5.x RequestCode): brokers and
// admin tools to a controller, and a controller's role-change notice to a
// broker.
const (
	NotifyMinBrokerIDChange     int16 = 905  // NOTIFY_MIN_BROKER_ID_CHANGE
	ControllerAlterSyncStateSet int16 = 1001 // CONTROLLER_ALTER_SYNC_STATE_SET
	ControllerElectMaster       int16 = 1002 // CONTROLLER_ELECT_MASTER
	ControllerRegisterBroker    int16 = 1003 // CONTROLLER_REGISTER_BROKER
	ControllerGetReplicaInfo    int16 = 1004 // CONTROLLER_GET_REPLICA_INFO
	ControllerGetMetadataInfo   int16 = 1005 // CONTROLLER_GET_METADATA_INFO
	ControllerGetSyncStateData  int16 = 1006 // CONTROLLER_GET_SYNC_STATE_DATA
	GetBrokerEpochCache         int16 = 1007 // GET_BROKER_EPOCH_CACHE
	NotifyBrokerRoleChanged     int16 = 1008 // NOTIFY_BROKER_ROLE_CHANGED
	UpdateControllerConfig      int16 = 1009 // UPDATE_CONTROLLER_CONFIG
	GetControllerConfig         int16 = 1010 // GET_CONTROLLER_CONFIG
	CleanBrokerData             int16 = 1011 // CLEAN_BROKER_DATA
	ControllerGetNextBrokerID   int16 = 1012 // CONTROLLER_GET_NEXT_BROKER_ID
	ControllerApplyBrokerID     int16 = 1013 // CONTROLLER_APPLY_BROKER_ID
)

// Response codes (upstream ResponseCode).
const (
	Success                              int16 = 0    // SUCCESS
	SystemError                          int16 = 1    // SYSTEM_ERROR
	SystemBusy                           int16 = 2    // SYSTEM_BUSY
	RequestCodeNotSupported              int16 = 3    // REQUEST_CODE_NOT_SUPPORTED
	TransactionFailed                    int16 = 4    // TRANSACTION_FAILED
	FlushDiskTimeout                     int16 = 10   // FLUSH_DISK_TIMEOUT
	SlaveNotAvailable                    int16 = 11   // SLAVE_NOT_AVAILABLE
	FlushSlaveTimeout                    int16 = 12   // FLUSH_SLAVE_TIMEOUT
	MessageIllegal                       int16 = 13   // MESSAGE_ILLEGAL
	ServiceNotAvailable                  int16 = 14   // SERVICE_NOT_AVAILABLE
	VersionNotSupported                  int16 = 15   // VERSION_NOT_SUPPORTED
	NoPermission                         int16 = 16   // NO_PERMISSION
	TopicNotExist                        int16 = 17   // TOPIC_NOT_EXIST
	TopicExistAlready                    int16 = 18   // TOPIC_EXIST_ALREADY
	PullNotFound                         int16 = 19   // PULL_NOT_FOUND
	PullRetryImmediately                 int16 = 20   // PULL_RETRY_IMMEDIATELY
	PullOffsetMoved                      int16 = 21   // PULL_OFFSET_MOVED
	QueryNotFound                        int16 = 22   // QUERY_NOT_FOUND
	SubscriptionParseFailed              int16 = 23   // SUBSCRIPTION_PARSE_FAILED
	SubscriptionNotExist                 int16 = 24   // SUBSCRIPTION_NOT_EXIST
	SubscriptionNotLatest                int16 = 25   // SUBSCRIPTION_NOT_LATEST
	SubscriptionGroupNotExist            int16 = 26   // SUBSCRIPTION_GROUP_NOT_EXIST
	FilterDataNotExist                   int16 = 27   // FILTER_DATA_NOT_EXIST
	FilterDataNotLatest                  int16 = 28   // FILTER_DATA_NOT_LATEST
	InvalidParameter                     int16 = 29   // INVALID_PARAMETER
	TransactionShouldCommit              int16 = 200  // TRANSACTION_SHOULD_COMMIT
	TransactionShouldRollback            int16 = 201  // TRANSACTION_SHOULD_ROLLBACK
	TransactionStateUnknow               int16 = 202  // TRANSACTION_STATE_UNKNOW
	TransactionStateGroupWrong           int16 = 203  // TRANSACTION_STATE_GROUP_WRONG
	NoBuyerID                            int16 = 204  // NO_BUYER_ID
	NotInCurrentUnit                     int16 = 205  // NOT_IN_CURRENT_UNIT
	ConsumerNotOnline                    int16 = 206  // CONSUMER_NOT_ONLINE
	ConsumeMsgTimeout                    int16 = 207  // CONSUME_MSG_TIMEOUT
	NoMessage                            int16 = 208  // NO_MESSAGE
	PollingFull                          int16 = 209  // POLLING_FULL
	PollingTimeout                       int16 = 210  // POLLING_TIMEOUT
	BrokerNotExist                       int16 = 211  // BROKER_NOT_EXIST
	BrokerDispatchNotComplete            int16 = 212  // BROKER_DISPATCH_NOT_COMPLETE
	BroadcastConsumption                 int16 = 213  // BROADCAST_CONSUMPTION
	FlowControl                          int16 = 215  // FLOW_CONTROL
	NotLeaderForQueue                    int16 = 501  // NOT_LEADER_FOR_QUEUE
	IllegalOperation                     int16 = 604  // ILLEGAL_OPERATION
	GoAway                               int16 = 1500 // GO_AWAY
	ControllerFencedMasterEpoch          int16 = 2000 // CONTROLLER_FENCED_MASTER_EPOCH
	ControllerFencedSyncStateSetEpoch    int16 = 2001 // CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
	ControllerInvalidMaster              int16 = 2002 // CONTROLLER_INVALID_MASTER
	ControllerInvalidReplicas            int16 = 2003 // CONTROLLER_INVALID_REPLICAS
	ControllerMasterNotAvailable         int16 = 2004 // CONTROLLER_MASTER_NOT_AVAILABLE
	ControllerInvalidRequest             int16 = 2005 // CONTROLLER_INVALID_REQUEST
	ControllerBrokerNotAlive             int16 = 2006 // CONTROLLER_BROKER_NOT_ALIVE
	ControllerNotLeader                  int16 = 2007 // CONTROLLER_NOT_LEADER
	ControllerBrokerMetadataNotExist     int16 = 2008 // CONTROLLER_BROKER_METADATA_NOT_EXIST
	ControllerInvalidCleanBrokerMetadata int16 = 2009 // CONTROLLER_INVALID_CLEAN_BROKER_METADATA
	ControllerBrokerNeedToBeRegistered   int16 = 2010 // CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
	ControllerMasterStillExist           int16 = 2011 // CONTROLLER_MASTER_STILL_EXIST
	ControllerElectMasterFailed          int16 = 2012 // CONTROLLER_ELECT_MASTER_FAILED
	ControllerAlterSyncStateSetFailed    int16 = 2013 // CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
	ControllerBrokerIDInvalid            int16 = 2014 // CONTROLLER_BROKER_ID_INVALID
	ControllerJraftInternalError         int16 = 2015 // CONTROLLER_JRAFT_INTERNAL_ERROR
	ControllerBrokerLiveInfoNotExists    int16 = 2016 // CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS
	UserNotExist                         int16 = 3001 // USER_NOT_EXIST
	PolicyNotExist                       int16 = 3002 // POLICY_NOT_EXIST
)

// CodeName returns the RocketMQ name of a request code (response false) or a
// response code (response true); unknown codes read as "UNKNOWN".
func CodeName(code int16, response bool) string {
	if response {
		return responseCodeName(code)
	}
	return requestCodeName(code)
}

func requestCodeName(code int16) string {
	switch code {
	case SendMessage:
		return "SEND_MESSAGE"
	case PullMessage:
		return "PULL_MESSAGE"
	case QueryMessage:
		return "QUERY_MESSAGE"
	case QueryBrokerOffset:
		return "QUERY_BROKER_OFFSET"
	case QueryConsumerOffset:
		return "QUERY_CONSUMER_OFFSET"
	case UpdateConsumerOffset:
		return "UPDATE_CONSUMER_OFFSET"
	case UpdateAndCreateTopic:
		return "UPDATE_AND_CREATE_TOPIC"
	case GetAllTopicConfig:
		return "GET_ALL_TOPIC_CONFIG"
	case GetTopicConfigList:
		return "GET_TOPIC_CONFIG_LIST"
	case GetTopicNameList:
		return "GET_TOPIC_NAME_LIST"
	case UpdateBrokerConfig:
		return "UPDATE_BROKER_CONFIG"
	case GetBrokerConfig:
		return "GET_BROKER_CONFIG"
	case TriggerDeleteFiles:
		return "TRIGGER_DELETE_FILES"
	case GetBrokerRuntimeInfo:
		return "GET_BROKER_RUNTIME_INFO"
	case SearchOffsetByTimestamp:
		return "SEARCH_OFFSET_BY_TIMESTAMP"
	case GetMaxOffset:
		return "GET_MAX_OFFSET"
	case GetMinOffset:
		return "GET_MIN_OFFSET"
	case GetEarliestMsgStoretime:
		return "GET_EARLIEST_MSG_STORETIME"
	case ViewMessageByID:
		return "VIEW_MESSAGE_BY_ID"
	case HeartBeat:
		return "HEART_BEAT"
	case UnregisterClient:
		return "UNREGISTER_CLIENT"
	case ConsumerSendMsgBack:
		return "CONSUMER_SEND_MSG_BACK"
	case EndTransaction:
		return "END_TRANSACTION"
	case GetConsumerListByGroup:
		return "GET_CONSUMER_LIST_BY_GROUP"
	case CheckTransactionState:
		return "CHECK_TRANSACTION_STATE"
	case NotifyConsumerIDsChanged:
		return "NOTIFY_CONSUMER_IDS_CHANGED"
	case LockBatchMQ:
		return "LOCK_BATCH_MQ"
	case UnlockBatchMQ:
		return "UNLOCK_BATCH_MQ"
	case GetAllConsumerOffset:
		return "GET_ALL_CONSUMER_OFFSET"
	case GetAllDelayOffset:
		return "GET_ALL_DELAY_OFFSET"
	case CheckClientConfig:
		return "CHECK_CLIENT_CONFIG"
	case PutKVConfig:
		return "PUT_KV_CONFIG"
	case GetKVConfig:
		return "GET_KV_CONFIG"
	case DeleteKVConfig:
		return "DELETE_KV_CONFIG"
	case RegisterBroker:
		return "REGISTER_BROKER"
	case UnregisterBroker:
		return "UNREGISTER_BROKER"
	case GetRouteInfoByTopic:
		return "GET_ROUTEINFO_BY_TOPIC"
	case GetBrokerClusterInfo:
		return "GET_BROKER_CLUSTER_INFO"
	case UpdateAndCreateSubscriptionGroup:
		return "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP"
	case GetAllSubscriptionGroupConfig:
		return "GET_ALL_SUBSCRIPTIONGROUP_CONFIG"
	case GetTopicStatsInfo:
		return "GET_TOPIC_STATS_INFO"
	case GetConsumerConnectionList:
		return "GET_CONSUMER_CONNECTION_LIST"
	case GetProducerConnectionList:
		return "GET_PRODUCER_CONNECTION_LIST"
	case WipeWritePermOfBroker:
		return "WIPE_WRITE_PERM_OF_BROKER"
	case GetAllTopicListFromNameServer:
		return "GET_ALL_TOPIC_LIST_FROM_NAMESERVER"
	case DeleteSubscriptionGroup:
		return "DELETE_SUBSCRIPTIONGROUP"
	case GetConsumeStats:
		return "GET_CONSUME_STATS"
	case SuspendConsumer:
		return "SUSPEND_CONSUMER"
	case ResumeConsumer:
		return "RESUME_CONSUMER"
	case ResetConsumerOffsetInConsumer:
		return "RESET_CONSUMER_OFFSET_IN_CONSUMER"
	case ResetConsumerOffsetInBroker:
		return "RESET_CONSUMER_OFFSET_IN_BROKER"
	case AdjustConsumerThreadPool:
		return "ADJUST_CONSUMER_THREAD_POOL"
	case WhoConsumeTheMessage:
		return "WHO_CONSUME_THE_MESSAGE"
	case DeleteTopicInBroker:
		return "DELETE_TOPIC_IN_BROKER"
	case DeleteTopicInNamesrv:
		return "DELETE_TOPIC_IN_NAMESRV"
	case GetKVListByNamespace:
		return "GET_KVLIST_BY_NAMESPACE"
	case ResetConsumerClientOffset:
		return "RESET_CONSUMER_CLIENT_OFFSET"
	case GetConsumerStatusFromClient:
		return "GET_CONSUMER_STATUS_FROM_CLIENT"
	case InvokeBrokerToResetOffset:
		return "INVOKE_BROKER_TO_RESET_OFFSET"
	case InvokeBrokerToGetConsumerStatus:
		return "INVOKE_BROKER_TO_GET_CONSUMER_STATUS"
	case GetTopicsByCluster:
		return "GET_TOPICS_BY_CLUSTER"
	case QueryTopicConsumeByWho:
		return "QUERY_TOPIC_CONSUME_BY_WHO"
	case RegisterFilterServer:
		return "REGISTER_FILTER_SERVER"
	case RegisterMessageFilterClass:
		return "REGISTER_MESSAGE_FILTER_CLASS"
	case QueryConsumeTimeSpan:
		return "QUERY_CONSUME_TIME_SPAN"
	case GetSystemTopicListFromNS:
		return "GET_SYSTEM_TOPIC_LIST_FROM_NS"
	case GetSystemTopicListFromBroker:
		return "GET_SYSTEM_TOPIC_LIST_FROM_BROKER"
	case CleanExpiredConsumeQueue:
		return "CLEAN_EXPIRED_CONSUMEQUEUE"
	case GetConsumerRunningInfo:
		return "GET_CONSUMER_RUNNING_INFO"
	case QueryCorrectionOffset:
		return "QUERY_CORRECTION_OFFSET"
	case ConsumeMessageDirectly:
		return "CONSUME_MESSAGE_DIRECTLY"
	case SendMessageV2:
		return "SEND_MESSAGE_V2"
	case GetUnitTopicList:
		return "GET_UNIT_TOPIC_LIST"
	case GetHasUnitSubTopicList:
		return "GET_HAS_UNIT_SUB_TOPIC_LIST"
	case GetHasUnitSubUnunitTopicList:
		return "GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST"
	case CloneGroupOffset:
		return "CLONE_GROUP_OFFSET"
	case ViewBrokerStatsData:
		return "VIEW_BROKER_STATS_DATA"
	case CleanUnusedTopic:
		return "CLEAN_UNUSED_TOPIC"
	case GetBrokerConsumeStats:
		return "GET_BROKER_CONSUME_STATS"
	case UpdateNamesrvConfig:
		return "UPDATE_NAMESRV_CONFIG"
	case GetNamesrvConfig:
		return "GET_NAMESRV_CONFIG"
	case SendBatchMessage:
		return "SEND_BATCH_MESSAGE"
	case QueryConsumeQueue:
		return "QUERY_CONSUME_QUEUE"
	case QueryDataVersion:
		return "QUERY_DATA_VERSION"
	case ResumeCheckHalfMessage:
		return "RESUME_CHECK_HALF_MESSAGE"
	case SendReplyMessage:
		return "SEND_REPLY_MESSAGE"
	case SendReplyMessageV2:
		return "SEND_REPLY_MESSAGE_V2"
	case PushReplyMessageToClient:
		return "PUSH_REPLY_MESSAGE_TO_CLIENT"
	case AddWritePermOfBroker:
		return "ADD_WRITE_PERM_OF_BROKER"
	case BrokerHeartbeat:
		return "BROKER_HEARTBEAT"
	case GetTimerCheckPoint:
		return "GET_TIMER_CHECK_POINT"
	case NotifyMinBrokerIDChange:
		return "NOTIFY_MIN_BROKER_ID_CHANGE"
	case ControllerAlterSyncStateSet:
		return "CONTROLLER_ALTER_SYNC_STATE_SET"
	case ControllerElectMaster:
		return "CONTROLLER_ELECT_MASTER"
	case ControllerRegisterBroker:
		return "CONTROLLER_REGISTER_BROKER"
	case ControllerGetReplicaInfo:
		return "CONTROLLER_GET_REPLICA_INFO"
	case ControllerGetMetadataInfo:
		return "CONTROLLER_GET_METADATA_INFO"
	case ControllerGetSyncStateData:
		return "CONTROLLER_GET_SYNC_STATE_DATA"
	case GetBrokerEpochCache:
		return "GET_BROKER_EPOCH_CACHE"
	case NotifyBrokerRoleChanged:
		return "NOTIFY_BROKER_ROLE_CHANGED"
	case UpdateControllerConfig:
		return "UPDATE_CONTROLLER_CONFIG"
	case GetControllerConfig:
		return "GET_CONTROLLER_CONFIG"
	case CleanBrokerData:
		return "CLEAN_BROKER_DATA"
	case ControllerGetNextBrokerID:
		return "CONTROLLER_GET_NEXT_BROKER_ID"
	case ControllerApplyBrokerID:
		return "CONTROLLER_APPLY_BROKER_ID"
	}
	return "UNKNOWN"
}

func responseCodeName(code int16) string {
	switch code {
	case Success:
		return "SUCCESS"
	case SystemError:
		return "SYSTEM_ERROR"
	case SystemBusy:
		return "SYSTEM_BUSY"
	case RequestCodeNotSupported:
		return "REQUEST_CODE_NOT_SUPPORTED"
	case TransactionFailed:
		return "TRANSACTION_FAILED"
	case FlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	case FlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case MessageIllegal:
		return "MESSAGE_ILLEGAL"
	case ServiceNotAvailable:
		return "SERVICE_NOT_AVAILABLE"
	case VersionNotSupported:
		return "VERSION_NOT_SUPPORTED"
	case NoPermission:
		return "NO_PERMISSION"
	case TopicNotExist:
		return "TOPIC_NOT_EXIST"
	case TopicExistAlready:
		return "TOPIC_EXIST_ALREADY"
	case PullNotFound:
		return "PULL_NOT_FOUND"
	case PullRetryImmediately:
		return "PULL_RETRY_IMMEDIATELY"
	case PullOffsetMoved:
		return "PULL_OFFSET_MOVED"
	case QueryNotFound:
		return "QUERY_NOT_FOUND"
	case SubscriptionParseFailed:
		return "SUBSCRIPTION_PARSE_FAILED"
	case SubscriptionNotExist:
		return "SUBSCRIPTION_NOT_EXIST"
	case SubscriptionNotLatest:
		return "SUBSCRIPTION_NOT_LATEST"
	case SubscriptionGroupNotExist:
		return "SUBSCRIPTION_GROUP_NOT_EXIST"
	case FilterDataNotExist:
		return "FILTER_DATA_NOT_EXIST"
	case FilterDataNotLatest:
		return "FILTER_DATA_NOT_LATEST"
	case InvalidParameter:
		return "INVALID_PARAMETER"
	case TransactionShouldCommit:
		return "TRANSACTION_SHOULD_COMMIT"
	case TransactionShouldRollback:
		return "TRANSACTION_SHOULD_ROLLBACK"
	case TransactionStateUnknow:
		return "TRANSACTION_STATE_UNKNOW"
	case TransactionStateGroupWrong:
		return "TRANSACTION_STATE_GROUP_WRONG"
	case NoBuyerID:
		return "NO_BUYER_ID"
	case NotInCurrentUnit:
		return "NOT_IN_CURRENT_UNIT"
	case ConsumerNotOnline:
		return "CONSUMER_NOT_ONLINE"
	case ConsumeMsgTimeout:
		return "CONSUME_MSG_TIMEOUT"
	case NoMessage:
		return "NO_MESSAGE"
	case PollingFull:
		return "POLLING_FULL"
	case PollingTimeout:
		return "POLLING_TIMEOUT"
	case BrokerNotExist:
		return "BROKER_NOT_EXIST"
	case BrokerDispatchNotComplete:
		return "BROKER_DISPATCH_NOT_COMPLETE"
	case BroadcastConsumption:
		return "BROADCAST_CONSUMPTION"
	case FlowControl:
		return "FLOW_CONTROL"
	case NotLeaderForQueue:
		return "NOT_LEADER_FOR_QUEUE"
	case IllegalOperation:
		return "ILLEGAL_OPERATION"
	case GoAway:
		return "GO_AWAY"
	case ControllerFencedMasterEpoch:
		return "CONTROLLER_FENCED_MASTER_EPOCH"
	case ControllerFencedSyncStateSetEpoch:
		return "CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH"
	case ControllerInvalidMaster:
		return "CONTROLLER_INVALID_MASTER"
	case ControllerInvalidReplicas:
		return "CONTROLLER_INVALID_REPLICAS"
	case ControllerMasterNotAvailable:
		return "CONTROLLER_MASTER_NOT_AVAILABLE"
	case ControllerInvalidRequest:
		return "CONTROLLER_INVALID_REQUEST"
	case ControllerBrokerNotAlive:
		return "CONTROLLER_BROKER_NOT_ALIVE"
	case ControllerNotLeader:
		return "CONTROLLER_NOT_LEADER"
	case ControllerBrokerMetadataNotExist:
		return "CONTROLLER_BROKER_METADATA_NOT_EXIST"
	case ControllerInvalidCleanBrokerMetadata:
		return "CONTROLLER_INVALID_CLEAN_BROKER_METADATA"
	case ControllerBrokerNeedToBeRegistered:
		return "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED"
	case ControllerMasterStillExist:
		return "CONTROLLER_MASTER_STILL_EXIST"
	case ControllerElectMasterFailed:
		return "CONTROLLER_ELECT_MASTER_FAILED"
	case ControllerAlterSyncStateSetFailed:
		return "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED"
	case ControllerBrokerIDInvalid:
		return "CONTROLLER_BROKER_ID_INVALID"
	case ControllerJraftInternalError:
		return "CONTROLLER_JRAFT_INTERNAL_ERROR"
	case ControllerBrokerLiveInfoNotExists:
		return "CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS"
	case UserNotExist:
		return "USER_NOT_EXIST"
	case PolicyNotExist:
		return "POLICY_NOT_EXIST"
	}
	return "UNKNOWN"
}

// Request codes of 5.x POP consumption (upstream RequestCode). They do not
// fit the int16 of the binary header, so they travel in JSON headers only:
// build requests with NewWideRequest, serve them with the transport's
// HandleWide.
const (
	PopMessage                 int32 = 200050 // POP_MESSAGE
	AckMessage                 int32 = 200051 // ACK_MESSAGE
	PeekMessage                int32 = 200052 // PEEK_MESSAGE
	ChangeMessageInvisibleTime int32 = 200053 // CHANGE_MESSAGE_INVISIBLETIME
	Notification               int32 = 200054 // NOTIFICATION
	PollingInfo                int32 = 200055 // POLLING_INFO
	BatchAckMessage            int32 = 200151 // BATCH_ACK_MESSAGE
)

// CodeOutOfRange stands for a request code that does not fit the int16 of
// the binary header (the JSON form allows more). No processor is ever
// registered for it.
const CodeOutOfRange int16 = -32768
