package ctl

// OpReopenLogs, from the command line, makes a daemon master reopen its
// -log-file (after logrotate moved it); the answer is the path.
const OpReopenLogs = "reopen-logs"
