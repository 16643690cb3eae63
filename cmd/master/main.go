// Command master is wsfleet's command line and supervisor.
package main

func main() {}
