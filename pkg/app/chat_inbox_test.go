package app

import (
	"encoding/json"
	"testing"
)

// TestFormatKeptUser: a kept whisper reaches the user with its offset and
// epoch; another message kept for the user (a backend's) as it was kept.
func TestFormatKeptUser(t *testing.T) {
	ch := NewChat()
	w := chatOut{Type: "whisper", From: "ann", Text: "psst"}.msg()
	got := ch.FormatKeptUser("bob", Kept{Message: w, Position: Position{Offset: 42, Epoch: "e1"}})
	var o chatOut
	if err := json.Unmarshal(got.Data, &o); err != nil || o.Type != "whisper" || o.From != "ann" || o.Offset == nil || *o.Offset != 42 || o.Epoch != "e1" {
		t.Fatalf("kept whisper: %s (%v)", got.Data, err)
	}
	other := Message{Data: []byte(`{"type":"order","id":7}`)}
	if got := ch.FormatKeptUser("bob", Kept{Message: other, Position: Position{Offset: 43, Epoch: "e1"}}); string(got.Data) != string(other.Data) {
		t.Fatalf("kept backend message: %s", got.Data)
	}
}
