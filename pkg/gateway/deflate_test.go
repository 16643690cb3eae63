package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

func TestPermessageDeflate(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true, MaxMessage: 64 << 10}, &echo{})
	offer := wsflate.Parameters{ClientNoContextTakeover: true}.Option()
	c, _, hs, err := ws.Dialer{Extensions: []httphead.Option{offer}}.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != wsflate.ExtensionName {
		t.Fatalf("extensions %v, want permessage-deflate", hs.Extensions)
	}
	text := strings.Repeat("你好，wsfleet! ", 200)
	z := compress([]byte(text))
	f := ws.NewTextFrame(z)
	f.Header.Rsv = ws.Rsv(true, false, false)
	if err := ws.WriteFrame(c, ws.MaskFrame(f)); err != nil {
		t.Fatal(err)
	}
	got, err := ws.ReadFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Header.Rsv1() || len(got.Payload) >= len(text) {
		t.Fatalf("answer not compressed: rsv1=%v %d bytes", got.Header.Rsv1(), len(got.Payload))
	}
	plain, err := decompress(got.Payload, 1<<20)
	if err != nil || string(plain) != text {
		t.Fatalf("round trip: %v (%d bytes)", err, len(plain))
	}

	// A bomb: small compressed, over MaxMessage inflated: 1009.
	bomb := compress(bytes.Repeat([]byte{'a'}, 1<<20))
	f = ws.NewBinaryFrame(bomb)
	f.Header.Rsv = ws.Rsv(true, false, false)
	ws.WriteFrame(c, ws.MaskFrame(f))
	if code := readClose(t, c); code != ws.StatusMessageTooBig {
		t.Fatalf("bomb closed with %d, want 1009", code)
	}
}

func TestNoDeflateWithoutOffer(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true}, &echo{})
	c := dial(t, url)
	text := strings.Repeat("x", 1000)
	ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte(text))))
	got, err := ws.ReadFrame(c)
	if err != nil || got.Header.Rsv1() || string(got.Payload) != text {
		t.Fatalf("plain client got rsv1=%v %d bytes %v", got.Header.Rsv1(), len(got.Payload), err)
	}
	// RSV1 without negotiation is a protocol error.
	f := ws.NewTextFrame([]byte("x"))
	f.Header.Rsv = ws.Rsv(true, false, false)
	ws.WriteFrame(c, ws.MaskFrame(f))
	if code := readClose(t, c); code != ws.StatusProtocolError {
		t.Fatalf("rsv1 without deflate: %d", code)
	}
}
