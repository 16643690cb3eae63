// Command worker serves WebSocket connections for a wsfleet master.
package main

func main() {}
