package ctl

// OpClusterStatus, from the command line (`master status -cluster`), asks
// the master for every master of the cluster's status, gathered over the
// bus; the answer is internal/master's ClusterStatus.
const OpClusterStatus = "cluster-status"
