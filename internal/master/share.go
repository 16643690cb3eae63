package master

// Share is each of count workers' part of a per-host limit (-max-conns,
// -max-conns-per-ip): limit divided by count, rounded up, so the host holds
// at most limit plus count-1. 0 (no limit) stays 0.
//
// Workers keep no shared counter: the kernel spreads connections over them
// (SO_REUSEPORT hashes each connection's addresses and ports), so each
// worker sees its share of the clients, and of each client's connections.
// The spread is random, not even: a client may be refused by one worker a
// little before it reaches the host's limit. During a reload the old
// workers, draining, still hold their connections beside the new ones'.
func Share(limit, count int) int {
	if limit <= 0 {
		return 0
	}
	count = max(count, 1)
	return (limit + count - 1) / count
}
