// Package history keeps rooms' messages, and the messages to users, in
// JetStream (-history) and reads them back for a join since a position
// (app.Historian).
//
// One stream per cluster, "<prefix>_history", holds subjects
// "<prefix>.hist.<room>" and, for users, "<prefix>.hist.@<user>" (names as
// bus.Token escapes them, which never start with '@'). Its per-subject
// limit is the largest count of the rules and its age the longest age;
// each room's or user's own rule (count, age) is applied when reading. A
// message's offset is its stream sequence, and the epoch a random id kept
// in the stream's metadata when the stream was made.
package history
