// Package acl is the broker's access control: Apache RocketMQ's classic
// plain ACL. Accounts come from a plain_acl.yml file (upstream's format),
// which is re-read when it changes; every request is checked before its
// processor runs:
//
//  1. a client whose address matches globalWhiteRemoteAddresses passes;
//  2. otherwise the request must carry an AccessKey of a known account;
//  3. a client whose address matches that account's whiteRemoteAddress
//     passes (upstream trusts it without a signature);
//  4. otherwise the Signature must be the HMAC-SHA1 of the request made
//     with the account's secret key (package auth);
//  5. admin request codes (topic and group create/delete, broker config,
//     offset reset) need an admin account;
//  6. the topics and groups the request touches need the permission its
//     code implies (PUB to send, SUB to pull, heartbeat, commit offsets;
//     a retry topic is its group's), from topicPerms/groupPerms or the
//     account's defaults. Admin accounts without explicit perms pass.
//
// A refused request gets NO_PERMISSION (16) with a remark saying why, and
// its processor never runs, so it changes nothing.
//
// The check for a cached account costs no allocation: rules are swapped
// atomically on reload, verifiers are pooled per account, and resources are
// looked up without building "%RETRY%" strings.
package acl
